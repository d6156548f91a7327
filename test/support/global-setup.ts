/**
 * Vitest global setup (runs in Node): starts the servers the worker tests talk
 * to over 127.0.0.1 and hands their URLs to the tests with `provide`:
 * the real local Kenni-like provider, the scripted (hostile) provider, and the
 * demo origin. Each is stopped in the teardown. It also hands over the
 * `ROUTES` of the deploy/dev `wrangler.toml` as wrangler reads them, so a test
 * can run the `npm run dev` example rules.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import type { TestProject } from 'vitest/node';
import { unstable_readConfig } from 'wrangler';
import { startDemoOrigin } from '../../dev/demo-origin.ts';
import { startKenniProvider } from '../../dev/provider.ts';
import { startBackchannelCapture } from './backchannel-capture-server.ts';
import { startScriptedProviderServer } from './scripted-provider-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    scriptedProviderUrl: string;
    kenniIssuer: string;
    demoOriginUrl: string;
    edgeSigningKey: string;
    /** `[vars].ROUTES` of the project's wrangler.toml (what `npm run dev` runs), as JSON. */
    devRoutes: string;
    /** The server that receives the real provider's back-channel logout tokens (see backchannel-capture-server.ts). */
    backchannelCaptureUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scripted = await startScriptedProviderServer();
  // The worker under test has no port: the provider's back-channel logout tokens go to a capture server instead.
  const backchannel = await startBackchannelCapture();
  const provider = await startKenniProvider({ port: 0, backchannelLogoutUri: backchannel.logoutUri });
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const edgeKey = { ...(await exportJWK(privateKey)), kid: 'edge-test-1', alg: 'ES256' };
  // The worker under test has no port, so its /auth/jwks.json (the public half of the test edge key) is served here.
  const edgeJwks = await serveJson({
    keys: [{ ...(await exportJWK(publicKey)), kid: 'edge-test-1', alg: 'ES256', use: 'sig' }],
  });
  // The tests' edge is https://edge.test; the audience defaults to the demo origin's own origin.
  const origin = await startDemoOrigin({ port: 0, edgeJwksUrl: edgeJwks.url, edgeIssuer: 'https://edge.test' });

  project.provide('scriptedProviderUrl', scripted.url);
  project.provide('kenniIssuer', provider.issuer);
  project.provide('demoOriginUrl', origin.url);
  project.provide('edgeSigningKey', JSON.stringify(edgeKey));
  const devConfig = unstable_readConfig({ config: fileURLToPath(new URL('../../wrangler.toml', import.meta.url)) });
  project.provide('devRoutes', JSON.stringify(devConfig.vars.ROUTES ?? null));
  project.provide('backchannelCaptureUrl', backchannel.url);

  return async () => {
    await Promise.allSettled([
      scripted.close(),
      provider.close(),
      origin.close(),
      edgeJwks.close(),
      backchannel.close(),
    ]);
  };
}

/** Serves one JSON document on 127.0.0.1 (a free port) until closed. */
async function serveJson(document: unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/jwks.json`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
