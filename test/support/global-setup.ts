/**
 * Vitest global setup (runs in Node): starts the servers the worker tests talk
 * to over 127.0.0.1 and hands their URLs to the tests with `provide`:
 * the real local Kenni-like provider, the scripted (hostile) provider, and the
 * demo origin. Each is stopped in the teardown.
 */
import { exportJWK, generateKeyPair } from 'jose';
import type { TestProject } from 'vitest/node';
import { startDemoOrigin } from '../../dev/demo-origin.ts';
import { startKenniProvider } from '../../dev/provider.ts';
import { startScriptedProviderServer } from './scripted-provider-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    scriptedProviderUrl: string;
    kenniIssuer: string;
    demoOriginUrl: string;
    edgeSigningKey: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scripted = await startScriptedProviderServer();
  const provider = await startKenniProvider({ port: 0 });
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const edgeKey = { ...(await exportJWK(privateKey)), kid: 'edge-test-1', alg: 'ES256' };
  const origin = await startDemoOrigin({ port: 0, edgeJwksUrl: 'https://edge.test/auth/jwks.json' });

  project.provide('scriptedProviderUrl', scripted.url);
  project.provide('kenniIssuer', provider.issuer);
  project.provide('demoOriginUrl', origin.url);
  project.provide('edgeSigningKey', JSON.stringify(edgeKey));

  return async () => {
    await Promise.allSettled([scripted.close(), provider.close(), origin.close()]);
  };
}
