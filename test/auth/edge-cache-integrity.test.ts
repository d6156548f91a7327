/**
 * The Cache API copies the edge reads back (discovery, JWKS, M2M tokens) are
 * authenticated (issue #8, item 7): another worker sharing the cache can write
 * any entry at the edge's cache keys, so a planted, tampered or moved entry is
 * ignored like a miss, the provider is asked instead, and one log line says why.
 *
 * The test plays that other worker: it writes with `caches.default.put()` at
 * the URLs the edge uses, in the edge's old unauthenticated layout.
 */
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { getClientCredentialsToken } from '../../src/m2m/client-credentials.ts';
import { sha256Hex } from '../../src/session/seal.ts';
import {
  API_SCOPE,
  AUDIENCE,
  freezeDateEachTest,
  loggedEvents,
  NOW,
  setUpVerifyingEdge as setUp,
} from '../support/bearer.ts';
import { createScriptedProvider, tokenResponse } from '../support/scripted-provider.ts';
import {
  generateTestKey,
  makeAccessTokenClaims,
  signJwt,
  type Claims,
  type TestKey,
} from '../support/token-factory.ts';

const UNKNOWN_KEY = 'The token was not signed by a known key of the provider.';

/** Where the edge keeps an entry in the Cache API: what a second worker on the zone can compute and overwrite. */
function edgeCacheUrl(name: string): string {
  return `https://kenni-edge.cache.internal/${encodeURIComponent(name)}`;
}

/** Writes `body` at the edge's cache key `name`, as another worker sharing the cache would. */
async function plant(name: string, body: string): Promise<void> {
  await caches.default.put(
    edgeCacheUrl(name),
    new Response(body, { headers: { 'content-type': 'application/json', 'cache-control': 'max-age=86400' } }),
  );
}

/** The edge's entry `name` as stored, as text (the entry must exist: proves the test plants where the edge reads). */
async function storedText(name: string): Promise<string> {
  const hit = await caches.default.match(edgeCacheUrl(name));
  expect(hit, `the edge's own Cache API entry "${name}"`).toBeInstanceOf(Response);
  return hit!.text();
}

/** A JWKS entry in the layout the edge used to write (`{ value, storedAt }`), fresh for ten minutes. */
function plantedKeySet(keys: TestKey[], at = Date.now()): string {
  return JSON.stringify({
    value: { keys: keys.map((key) => key.publicJwk), fetchedAt: at, expiresAt: at + 600_000 },
    storedAt: at,
  });
}

freezeDateEachTest();

async function expectAccepted(response: Response): Promise<void> {
  expect(response.status).toBe(200);
  expect(((await response.json()) as { claims: Claims }).claims.aud).toBe(AUDIENCE);
}

async function expectUnknownKey(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(await response.json()).toEqual({
    error: 'invalid_token',
    error_description: UNKNOWN_KEY,
    code: 'bearer_invalid',
  });
}

/** Asserts one `cache_entry_rejected` line for `kind` with `reason`, carrying no secret and no cache key. */
function expectOneRejection(kind: string, reason: string): void {
  const lines = loggedEvents('cache_entry_rejected');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 'warn', reason, detail: kind });
  const text = JSON.stringify(lines[0]);
  expect(text).not.toContain('test-session-secret');
  expect(text).not.toContain('kenni-edge.cache.internal');
}

describe('a JWKS planted in the Cache API', () => {
  it('is ignored by a cold isolate: a token signed with the planted key is refused and the real keys are fetched', async () => {
    const setup = await setUp();
    const attacker = await generateTestKey('RS256');
    await plant(`jwks ${setup.provider.endpoints.jwks_uri}`, plantedKeySet([attacker]));

    await expectUnknownKey(await setup.verify(await setup.token(attacker)));
    expect(await setup.jwksFetches()).toBe(1);
    await expectAccepted(await setup.verify(await setup.token()));
    expect(await setup.jwksFetches()).toBe(1);
    expectOneRejection('jwks', 'malformed');

    // The edge's own entry replaced the planted one: the next cold isolate verifies without a fetch and still refuses the attacker.
    setup.coldIsolate();
    await expectAccepted(await setup.verify(await setup.token(setup.key, { jti: crypto.randomUUID() })));
    expect(await setup.jwksFetches()).toBe(1);
    await expectUnknownKey(await setup.verify(await setup.token(attacker, { jti: crypto.randomUUID() })));
  });

  it('is ignored by a warm isolate looking for an unknown kid, and logged once however often it is read', async () => {
    const setup = await setUp();
    await expectAccepted(await setup.verify(await setup.token()));
    expect(await setup.jwksFetches()).toBe(1);
    const attacker = await generateTestKey('RS256');
    vi.setSystemTime(NOW + 10_000);
    await plant(`jwks ${setup.provider.endpoints.jwks_uri}`, plantedKeySet([setup.key, attacker]));

    // Within the refetch cooldown: no fetch, and the planted key is not taken from the Cache API either.
    await expectUnknownKey(await setup.verify(await setup.token(attacker)));
    await expectUnknownKey(await setup.verify(await setup.token(attacker, { jti: 'again' })));
    expect(await setup.jwksFetches()).toBe(1);

    // Past the cooldown the provider's real keys are fetched, and the attacker's key is still unknown.
    vi.setSystemTime(NOW + 31_000);
    await expectUnknownKey(await setup.verify(await setup.token(attacker, { jti: 'later' })));
    expect(await setup.jwksFetches()).toBe(2);
    expectOneRejection('jwks', 'malformed');
  });
});

describe('a discovery document planted in the Cache API', () => {
  it('never receives the client secret: the real provider is asked for discovery and gets the token request', async () => {
    const setup = await setUp();
    const attacker = await createScriptedProvider();
    await attacker.serveToken(tokenResponse({ access_token: 'ATTACKER-TOKEN', expires_in: 3600 }));
    await setup.provider.serveToken(tokenResponse({ access_token: 'REAL-TOKEN', expires_in: 3600 }));
    const document = {
      ...setup.provider.endpoints,
      issuer: setup.provider.issuer,
      token_endpoint: attacker.url('/oidc/token'),
    };
    await plant(`discovery ${setup.provider.issuer}`, JSON.stringify({ value: document, storedAt: Date.now() }));

    const token = await getClientCredentialsToken(setup.edge.env);

    expect(token.access_token).toBe('REAL-TOKEN');
    expect(await attacker.requests()).toEqual([]);
    expect(await setup.discoveryFetches()).toBe(1);
    expect(await setup.provider.requests({ method: 'POST', path: '/oidc/token' })).toHaveLength(1);
    expectOneRejection('discovery', 'malformed');
  });

  it("with one byte of the edge's own entry changed is ignored: the login goes to the real authorization endpoint", async () => {
    const setup = await setUp();
    expect((await setup.edge.fetch('/auth/login')).status).toBe(302);
    const name = `discovery ${setup.provider.issuer}`;
    const original = await storedText(name);
    const real = setup.provider.endpoints.authorization_endpoint;
    expect(original).toContain(real);
    const tampered = original.replace(real, `${real.slice(0, -1)}x`);
    expect(tampered.length).toBe(original.length);
    await plant(name, tampered);

    setup.coldIsolate(); // a new isolate
    const login = await setup.edge.fetch('/auth/login');

    expect(login.status).toBe(302);
    expect(login.headers.get('location')!.startsWith(`${real}?`)).toBe(true);
    expect(await setup.discoveryFetches()).toBe(2);
    expectOneRejection('discovery', 'bad_mac');
  });
});

describe("the edge's own JWKS entry", () => {
  it('with one byte of its expiry changed does not keep a retired key alive past the TTL', async () => {
    const setup = await setUp();
    const retired = await setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 7200 });
    await expectAccepted(await setup.verify(retired));
    const name = `jwks ${setup.provider.endpoints.jwks_uri}`;
    const original = await storedText(name);
    const expiry = `"expiresAt":${NOW + 600_000}`;
    expect(original).toContain(expiry);
    const tampered = original.replace(expiry, `"expiresAt":9${String(NOW + 600_000).slice(1)}`);
    expect(tampered.length).toBe(original.length);
    await plant(name, tampered);
    const next = await generateTestKey('RS256');
    await setup.provider.serveJwks([next]); // the provider retires the old key

    setup.coldIsolate(); // a new isolate, after the set's 600 s TTL
    vi.setSystemTime(NOW + 700_000);
    await expectUnknownKey(await setup.verify(retired));
    expect(await setup.jwksFetches()).toBe(2);
    await expectAccepted(await setup.verify(await setup.token(next)));
    expectOneRejection('jwks', 'bad_mac');
  });

  it("moved to the name of another provider's JWKS is ignored: that provider's issuer cannot be forged with the first provider's key", async () => {
    const first = await setUp();
    const second = await setUp();
    await expectAccepted(await first.verify(await first.token()));
    await expectAccepted(await second.verify(await second.token()));
    const moved = await storedText(`jwks ${first.provider.endpoints.jwks_uri}`);
    await plant(`jwks ${second.provider.endpoints.jwks_uri}`, moved);

    second.coldIsolate(); // a new isolate
    // Signed with the first provider's key, claiming the second provider as issuer.
    const forged = await signJwt(
      first.key,
      makeAccessTokenClaims({ issuer: second.provider.issuer, audience: AUDIENCE, scope: API_SCOPE }),
    );
    await expectUnknownKey(await second.verify(forged));
    expect(await second.jwksFetches()).toBe(2);
    await expectAccepted(await second.verify(await second.token(second.key, { jti: 'after' })));
    expectOneRejection('jwks', 'bad_mac');
  });
});

describe('an M2M token entry in the Cache API', () => {
  it('moved to the name of another scope is not handed out: the provider is asked for that scope', async () => {
    const setup = await setUp();
    await setup.provider.serveToken([
      tokenResponse({ access_token: 'READ-TOKEN', expires_in: 3600 }),
      tokenResponse({ access_token: 'WRITE-TOKEN', expires_in: 3600 }),
    ]);
    const config = loadConfig(setup.edge.env);
    const nameFor = async (scope: string) =>
      `m2m ${await sha256Hex([config.issuer, config.m2mClientId, config.m2mClientSecret, scope].join('\u0000'))}`;
    expect((await getClientCredentialsToken(setup.edge.env, { scope: 'api.read' })).access_token).toBe('READ-TOKEN');
    await plant(await nameFor('api.write'), await storedText(await nameFor('api.read')));

    setup.coldIsolate(); // a new isolate
    expect((await getClientCredentialsToken(setup.edge.env, { scope: 'api.write' })).access_token).toBe('WRITE-TOKEN');
    expect(await setup.provider.requests({ method: 'POST', path: '/oidc/token' })).toHaveLength(2);
    expectOneRejection('m2m', 'bad_mac');
  });
});
