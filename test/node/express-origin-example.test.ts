/**
 * The origin example of the README (examples/express-origin): its middleware and
 * its nginx `auth_request` verifier accept exactly the assertions the edge signs
 * (the edge's own `createIdentityAssertion`, its own `/auth/jwks.json` body from
 * `edgePublicJwks`, during an `EDGE_SIGNING_KEY` rotation) and nothing else.
 * Plain `node:http` plays Express: the middleware uses only what both offer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import {
  kenniAssertion,
  requireKenniIdentity,
  type KenniRequest,
} from '../../examples/express-origin/kenni-assertion.ts';
import { createVerifierHandler } from '../../examples/express-origin/verifier.ts';
import { parseConfig, type Env, type KenniEdgeConfig } from '../../src/config.ts';
import { createIdentityAssertion, edgePublicJwks } from '../../src/gateway/assertion.ts';

const servers: Server[] = [];
let edge: string; // the edge's origin: serves /auth/jwks.json, the assertions' iss
let origin: string; // the example origin: the assertions' aud
let verifier: string; // the nginx auth_request verifier
let rotating: KenniEdgeConfig; // EDGE_SIGNING_KEY = {"keys":[new, old]}
let previous: KenniEdgeConfig; // EDGE_SIGNING_KEY = old (before the rotation)
let stranger: KenniEdgeConfig; // a key the edge never published

async function privateKey(kid: string): Promise<JWK> {
  const { privateKey: key } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(key)), kid };
}

function edgeConfig(signingKey: unknown): KenniEdgeConfig {
  const env = {
    KENNI_ISSUER: 'https://idp.kenni.is/team.is',
    KENNI_CLIENT_ID: '@team.is/web',
    SESSION_SECRET: 'node-test-secret-0123456789abcdefghijklmnop',
    EDGE_SIGNING_KEY: JSON.stringify(signingKey),
  } as unknown as Env;
  return parseConfig(env, { requireBindings: false });
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function sign(config: KenniEdgeConfig, sub: string, audience = origin): Promise<string | undefined> {
  return createIdentityAssertion(config, { edgeOrigin: edge, audience, identity: { sub, auth: 'session' } });
}

/** An `alg: none` JWT with otherwise valid claims. */
function unsigned(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ ...claims, iat: now, exp: now + 60 })}.`;
}

async function account(assertion?: string, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${origin}/account`, {
    headers: { ...(assertion ? { 'x-kenni-assertion': assertion } : {}), ...extra },
  });
}

beforeAll(async () => {
  const fresh = await privateKey('edge-new');
  const old = await privateKey('edge-old');
  const { d: _d, ...oldPublic } = old;
  rotating = edgeConfig({ keys: [fresh, oldPublic] });
  previous = edgeConfig(old);
  stranger = edgeConfig(await privateKey('edge-new'));

  edge = await listen((req, res) => {
    if (req.url !== '/auth/jwks.json') return void res.writeHead(404).end();
    void edgePublicJwks(rotating).then((jwks) => {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwks));
    });
  });
  // The origin's own URL is known once it listens: the middleware is created on first use.
  let middleware: ReturnType<typeof kenniAssertion> | undefined;
  origin = await listen((req: KenniRequest, res) => {
    middleware ??= kenniAssertion({ edge, audience: origin });
    middleware(req, res, () =>
      requireKenniIdentity(req, res, () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: req.kenni!.sub }));
      }),
    );
  });
  let verify: ReturnType<typeof createVerifierHandler> | undefined;
  verifier = await listen((req, res) => {
    verify ??= createVerifierHandler({ edge, audience: origin });
    verify(req, res);
  });
});

afterAll(async () => {
  vi.useRealTimers();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('examples/express-origin middleware', () => {
  it('accepts an assertion the edge signs with the new key while both keys are published', async () => {
    const response = await account(await sign(rotating, 'sub-new'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: 'sub-new' });
  });

  it('accepts an assertion signed before the rotation with the old key, still published', async () => {
    const response = await account(await sign(previous, 'sub-old'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: 'sub-old' });
  });

  const refused: Array<[string, () => Promise<string | undefined>, Record<string, string>?]> = [
    ['no assertion, only a plain X-Kenni-Sub header', async () => undefined, { 'x-kenni-sub': 'spoofed' }],
    ['an assertion for another origin (aud)', () => sign(rotating, 'sub-aud', 'https://other.example.is')],
    ['an assertion signed with a key the edge never published', () => sign(stranger, 'sub-stranger')],
    [
      'an assertion from another issuer',
      () =>
        createIdentityAssertion(rotating, {
          edgeOrigin: 'https://evil.example',
          audience: origin,
          identity: { sub: 'sub-iss', auth: 'session' },
        }),
    ],
    ['a tampered assertion', async () => `${(await sign(rotating, 'sub-tamper'))!.slice(0, -4)}AAAA`],
    ['an unsigned assertion (alg none)', async () => unsigned({ iss: edge, aud: origin, sub: 'sub-none' })],
  ];
  it.each(refused)('refuses %s with 401', async (_label, make, extra = {}) => {
    const response = await account(await make(), extra);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('refuses an assertion that expired (signed 2 minutes ago)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 120_000);
    const old = await sign(rotating, 'sub-expired');
    vi.useRealTimers();
    expect((await account(old)).status).toBe(401);
  });
});

describe('examples/express-origin verifier (nginx auth_request)', () => {
  it('answers 204 with the verified subject, percent-encoded, for a valid assertion', async () => {
    const response = await fetch(verifier, { headers: { 'x-kenni-assertion': (await sign(rotating, 'Þórður'))! } });
    expect(response.status).toBe(204);
    expect(response.headers.get('x-kenni-verified-sub')).toBe('%C3%9E%C3%B3r%C3%B0ur');
  });

  it('answers 401 without a verified subject for a missing or foreign assertion', async () => {
    const cases: Array<Record<string, string>> = [{}, { 'x-kenni-assertion': (await sign(stranger, 'sub-x'))! }];
    for (const headers of cases) {
      const response = await fetch(verifier, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('x-kenni-verified-sub')).toBeNull();
    }
  });
});
