/**
 * The provider's JWKS as the edge caches it (issue #3): no provider request in
 * steady state, at most one refetch per 30 s cooldown for unknown `kid`s
 * (shared by concurrent requests), key rotation without a restart, known keys
 * kept while the provider is down, the Cache API behind a cold isolate, and
 * the provider's `Cache-Control` honoured within sane bounds.
 *
 * Fetches are counted where they land: at the scripted provider's `jwks_uri`.
 */
import type { JWK } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { deleteEdgeCache } from '../../src/provider/edge-cache.ts';
import {
  AUDIENCE,
  freezeDateEachTest,
  loggedEvents,
  NOW,
  RESOURCE_METADATA_PARAM,
  setUpVerifyingEdge as setUp,
  type VerifyingEdge,
} from '../support/bearer.ts';
import type { Reply } from '../support/scripted-provider.ts';
import { generateTestKey, type Claims, type TestKey } from '../support/token-factory.ts';

/** The unknown-kid refetch cooldown of the contract (30 s at most). */
const COOLDOWN_MS = 30_000;
/** The JWKS TTL when the provider sends no usable Cache-Control. */
const DEFAULT_TTL_MS = 600_000;

const UNKNOWN_KEY = 'The token was not signed by a known key of the provider.';

type Setup = VerifyingEdge;

freezeDateEachTest();

function at(offsetMs: number): void {
  vi.setSystemTime(NOW + offsetMs);
}

async function expectAccepted(response: Response, sub?: string): Promise<void> {
  expect(response.status).toBe(200);
  expect(response.headers.get('www-authenticate')).toBeNull();
  const body = (await response.json()) as { claims: Claims };
  expect(body.claims.aud).toBe(AUDIENCE);
  expect(response.headers.get('x-kenni-sub')).toBe(body.claims.sub);
  if (sub !== undefined) expect(body.claims.sub).toBe(sub);
}

async function expectUnknownKey(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(
    `Bearer realm="kenni-edge", error="invalid_token", error_description="${UNKNOWN_KEY}", ${RESOURCE_METADATA_PARAM}`,
  );
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await response.json()).toEqual({
    error: 'invalid_token',
    error_description: UNKNOWN_KEY,
    code: 'bearer_invalid',
  });
}

/** A token signed by a key the provider never published, under a random kid. */
async function unknownKidToken(setup: Setup, signer: TestKey): Promise<string> {
  return setup.token(signer, {}, { kid: `unknown-${crypto.randomUUID()}` });
}

describe('JWKS cache in steady state', () => {
  it('serves 1,000 valid requests from a warm cache without a JWKS fetch', async () => {
    const setup = await setUp();
    await expectAccepted(await setup.verify(await setup.token()));
    expect(await setup.jwksFetches()).toBe(1);
    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, index) => setup.token(setup.key, { sub: `user-${index}` })),
    );

    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, index) => setup.verify(tokens[index % tokens.length]!)),
      );
      statuses.push(...responses.map((response) => response.status));
      await Promise.all(responses.map((response) => response.body?.cancel()));
    }

    expect(statuses).toHaveLength(1000);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(await setup.jwksFetches()).toBe(1);
  });

  it('keeps serving from the isolate until the default TTL of 600 s, then fetches once', async () => {
    const setup = await setUp();
    // A new token each time: the edge remembers verified tokens for up to a minute, and this probes the key cache.
    const token = () => setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 3600, jti: crypto.randomUUID() });
    await expectAccepted(await setup.verify(await token()));

    at(DEFAULT_TTL_MS - 1000);
    await expectAccepted(await setup.verify(await token()));
    expect(await setup.jwksFetches()).toBe(1);

    at(DEFAULT_TTL_MS + 1000);
    await expectAccepted(await setup.verify(await token()));
    await expectAccepted(await setup.verify(await token()));
    expect(await setup.jwksFetches()).toBe(2);
  });
});

describe('unknown kid', () => {
  it('makes at most one JWKS fetch per 30 s cooldown, shared by 100 concurrent misses', async () => {
    const setup = await setUp();
    const stranger = await generateTestKey('RS256');
    const valid = await setup.token();
    await expectAccepted(await setup.verify(valid));
    expect(await setup.jwksFetches()).toBe(1);

    // Within the cooldown of the warm-up fetch: no fetch at all.
    at(10_000);
    const early = await Promise.all(
      Array.from({ length: 100 }, async () => setup.verify(await unknownKidToken(setup, stranger))),
    );
    for (const response of early) await expectUnknownKey(response);
    expect(await setup.jwksFetches()).toBe(1);

    // Past the cooldown: 100 concurrent misses share one (slow) fetch.
    await setup.provider.serveJwks([setup.key], { delayMs: 100 });
    at(COOLDOWN_MS + 1000);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => unknownKidToken(setup, stranger)));
    const concurrent = await Promise.all(tokens.map((token) => setup.verify(token)));
    for (const response of concurrent) await expectUnknownKey(response);
    expect(await setup.jwksFetches()).toBe(2);

    // Still within the cooldown of that fetch: none, and valid tokens are unaffected.
    at(COOLDOWN_MS + 1000 + COOLDOWN_MS - 2000);
    for (let index = 0; index < 20; index++)
      await expectUnknownKey(await setup.verify(await unknownKidToken(setup, stranger)));
    await expectAccepted(await setup.verify(valid));
    expect(await setup.jwksFetches()).toBe(2);

    // After the cooldown: exactly one more.
    at(2 * (COOLDOWN_MS + 1000));
    await expectUnknownKey(await setup.verify(await unknownKidToken(setup, stranger)));
    await expectUnknownKey(await setup.verify(await unknownKidToken(setup, stranger)));
    expect(await setup.jwksFetches()).toBe(3);

    const rejections = loggedEvents('bearer_rejected');
    expect(rejections).toHaveLength(222);
    expect(new Set(rejections.map((entry) => entry.reason))).toEqual(new Set(['unknown_key']));
  });

  it('picks up a rotated key without a restart once the provider publishes it', async () => {
    const setup = await setUp();
    const oldKey = setup.key;
    const newKey = await generateTestKey('RS256');
    await expectAccepted(await setup.verify(await setup.token(oldKey)), undefined);
    expect(await setup.jwksFetches()).toBe(1);

    // The provider publishes the next key and starts signing with it.
    at(5 * 60_000);
    await setup.provider.serveJwks([oldKey, newKey]);
    await expectAccepted(
      await setup.verify(await setup.token(newKey, { sub: 'signed-with-new-key' })),
      'signed-with-new-key',
    );
    await expectAccepted(
      await setup.verify(await setup.token(oldKey, { sub: 'signed-with-old-key' })),
      'signed-with-old-key',
    );
    expect(await setup.jwksFetches()).toBe(2);

    // Later it retires the old key: once the cached set expires, old-key tokens stop working.
    const oldKeyToken = await setup.token(oldKey, { exp: Math.floor(NOW / 1000) + 7200 });
    const newKeyToken = await setup.token(newKey, { exp: Math.floor(NOW / 1000) + 7200 });
    await setup.provider.serveJwks([newKey]);
    at(5 * 60_000 + DEFAULT_TTL_MS + 1000);
    await expectUnknownKey(await setup.verify(oldKeyToken));
    await expectAccepted(await setup.verify(newKeyToken));
    expect(await setup.jwksFetches()).toBe(3);
  });

  it('refuses a key published right after the last fetch until the cooldown has passed', async () => {
    const setup = await setUp();
    const newKey = await generateTestKey('ES256');
    await expectAccepted(await setup.verify(await setup.token()));
    await setup.provider.serveJwks([setup.key, newKey]);
    const token = await setup.token(newKey, { exp: Math.floor(NOW / 1000) + 3600 });

    at(5_000);
    await expectUnknownKey(await setup.verify(token));
    expect(await setup.jwksFetches()).toBe(1);

    at(COOLDOWN_MS + 1000);
    await expectAccepted(await setup.verify(token));
    expect(await setup.jwksFetches()).toBe(2);
  });
});

describe('provider JWKS down after warm-up', () => {
  const failures: Array<[string, Reply]> = [
    ['answering 500', { status: 500, json: { error: 'server_error' } }],
    ['hanging', { hang: true }],
    ['resetting the connection', { destroy: true }],
    ['answering 404 HTML', { status: 404, headers: { 'content-type': 'text/html' }, body: '<h1>Not found</h1>' }],
  ];

  it.each(failures)(
    'keeps accepting tokens of known keys and refuses unknown kids with 401 while %s',
    async (_name, failure) => {
      const setup = await setUp({ edge: { PROVIDER_TIMEOUT: '1' } });
      const stranger = await generateTestKey('RS256');
      const token = await setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 7200 });
      await expectAccepted(await setup.verify(token));
      await setup.provider.route('GET', '/oidc/jwks', failure);

      // The cached set has expired: one failed refetch, then the known keys keep working.
      at(DEFAULT_TTL_MS + 1000);
      await expectAccepted(await setup.verify(token));
      await expectUnknownKey(await setup.verify(await unknownKidToken(setup, stranger)));
      await expectAccepted(await setup.verify(token));
      expect(await setup.jwksFetches()).toBe(2);

      // After the cooldown an unknown kid may try once more; it fails the same way, still 401.
      at(DEFAULT_TTL_MS + 1000 + COOLDOWN_MS + 1000);
      await expectUnknownKey(await setup.verify(await unknownKidToken(setup, stranger)));
      await expectAccepted(await setup.verify(token));
      expect(await setup.jwksFetches()).toBe(3);

      // An hour later the provider is still down: the known keys still work.
      at(DEFAULT_TTL_MS + 3600_000);
      await expectAccepted(
        await setup.verify(
          await setup.token(setup.key, { exp: Math.floor((NOW + DEFAULT_TTL_MS + 3600_000) / 1000) + 600 }),
        ),
      );
    },
  );
});

describe('provider JWKS down for longer than a day', () => {
  it('stops trusting the last known keys a day after the last successful fetch: 502', async () => {
    const setup = await setUp();
    await expectAccepted(await setup.verify(await setup.token()));
    await setup.provider.route('GET', '/oidc/jwks', { status: 500 });

    at(23 * 3600_000);
    await expectAccepted(await setup.verify(await setup.token()));

    at(24 * 3600_000 + 60_000);
    const response = await setup.verify(await setup.token());
    expect(response.status).toBe(502);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({
      error: 'provider_unreachable',
      error_description: 'The sign-in provider answered with an error (HTTP 500). Please try again shortly.',
      code: 'provider_unreachable',
    });
  });
});

describe('Cache API behind the isolate', () => {
  it('lets a cold isolate keep using the last known keys from the Cache API while the provider JWKS is down', async () => {
    const setup = await setUp();
    const token = await setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 7200 });
    await expectAccepted(await setup.verify(token));
    await setup.provider.route('GET', '/oidc/jwks', { status: 503 });

    // A new isolate after the cached set's TTL: the provider is asked once, fails, and the Cache API copy serves.
    setup.coldIsolate();
    at(DEFAULT_TTL_MS + 60_000);
    await expectAccepted(await setup.verify(token));
    await expectAccepted(await setup.verify(token));
    expect(await setup.jwksFetches()).toBe(2);
    expect(await setup.provider.requests({ path: '/.well-known/openid-configuration' })).toHaveLength(1);
  });

  it('lets a cold isolate verify with no JWKS fetch while the Cache API entry is warm', async () => {
    const setup = await setUp();
    const token = await setup.token();
    await expectAccepted(await setup.verify(token));
    expect(await setup.jwksFetches()).toBe(1);

    setup.coldIsolate();
    at(60_000);
    await expectAccepted(await setup.verify(token));
    await expectAccepted(await setup.verify(token));

    expect(await setup.jwksFetches()).toBe(1);
  });

  it('fetches again in a cold isolate once the Cache API entry is gone too', async () => {
    const setup = await setUp();
    const token = await setup.token();
    await expectAccepted(await setup.verify(token));

    setup.coldIsolate();
    await deleteEdgeCache(`jwks ${setup.provider.endpoints.jwks_uri}`);
    await expectAccepted(await setup.verify(token));

    expect(await setup.jwksFetches()).toBe(2);
  });

  it('does not let a cold isolate use an expired Cache API entry', async () => {
    const setup = await setUp();
    const token = await setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 3600 });
    await expectAccepted(await setup.verify(token));

    setup.coldIsolate();
    at(DEFAULT_TTL_MS + 1000);
    await expectAccepted(await setup.verify(token));

    expect(await setup.jwksFetches()).toBe(2);
  });
});

describe("the provider's Cache-Control", () => {
  it('is honoured when sane: max-age=120 refetches after 120 s, not before', async () => {
    const setup = await setUp({ jwksReply: { headers: { 'cache-control': 'public, max-age=120' } } });
    // A new token each time: the edge remembers verified tokens for up to a minute, and this probes the key cache.
    const token = () => setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 3600, jti: crypto.randomUUID() });
    await expectAccepted(await setup.verify(await token()));

    at(119_000);
    await expectAccepted(await setup.verify(await token()));
    expect(await setup.jwksFetches()).toBe(1);

    at(121_000);
    await expectAccepted(await setup.verify(await token()));
    expect(await setup.jwksFetches()).toBe(2);

    // The new copy again lives 120 s.
    at(121_000 + 119_000);
    await expectAccepted(await setup.verify(await token()));
    expect(await setup.jwksFetches()).toBe(2);
  });

  it.each(['max-age=5', 'max-age=0', 'max-age=604800', 'no-store', 'no-cache, max-age=120', 'private'])(
    'is ignored when absurd or unusable (%s): the default 600 s applies',
    async (cacheControl) => {
      const setup = await setUp({ jwksReply: { headers: { 'cache-control': cacheControl } } });
      // A new token each time: the edge remembers verified tokens for up to a minute, and this probes the key cache.
      const token = () => setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 3600, jti: crypto.randomUUID() });
      await expectAccepted(await setup.verify(await token()));

      at(6_000);
      await expectAccepted(await setup.verify(await token()));
      at(DEFAULT_TTL_MS - 1000);
      await expectAccepted(await setup.verify(await token()));
      expect(await setup.jwksFetches()).toBe(1);

      at(DEFAULT_TTL_MS + 1000);
      await expectAccepted(await setup.verify(await token()));
      expect(await setup.jwksFetches()).toBe(2);
    },
  );
});

describe('JWKS contents', () => {
  it('ignores keys with an unknown kty, use "enc", symmetric or private keys and junk entries, without breaking valid keys', async () => {
    const setup = await setUp();
    const encryptionKey = await generateTestKey('RS256', 'enc-1');
    const sameKidEncryptionKey = await generateTestKey('RS256', setup.key.kid);
    const privateKey = await generateTestKey('ES256', 'private-1');
    const privateJwk = {
      ...(await crypto.subtle.exportKey('jwk', privateKey.privateKey)),
      kid: 'private-1',
      alg: 'ES256',
      use: 'sig',
    } as JWK;
    await setup.provider.route('GET', '/oidc/jwks', {
      headers: { 'content-type': 'application/jwk-set+json' },
      json: {
        keys: [
          { kty: 'XYZ', kid: 'weird-1', alg: 'RS256', x: 'abc' },
          { ...encryptionKey.publicJwk, use: 'enc', alg: 'RSA-OAEP-256' },
          { ...sameKidEncryptionKey.publicJwk, use: 'enc' },
          { kty: 'oct', kid: 'hmac-1', k: 'c2VjcmV0', alg: 'HS256' },
          privateJwk,
          { kty: 'EC', kid: 'bad-curve', crv: 'P-999', x: 'AA', y: 'AA' },
          { ...setup.key.publicJwk, kid: 'verify-only', key_ops: ['encrypt'] },
          null,
          'not a key',
          42,
          setup.key.publicJwk,
        ],
      },
    });

    await expectAccepted(await setup.verify(await setup.token()));
    await expectAccepted(await setup.verify(await setup.token(setup.key, {}, { kid: undefined })));
    await expectUnknownKey(await setup.verify(await setup.token(encryptionKey)));
    await expectUnknownKey(await setup.verify(await setup.token(privateKey)));
    expect(await setup.jwksFetches()).toBe(1);
  });
});

describe('JWKS never loadable', () => {
  const failures: Array<[string, Reply, string]> = [
    [
      'answers 500',
      { status: 500 },
      'The sign-in provider answered with an error (HTTP 500). Please try again shortly.',
    ],
    ['hangs', { hang: true }, 'The sign-in provider could not be reached. Please try again shortly.'],
    [
      'resets the connection',
      { destroy: true },
      'The sign-in provider could not be reached. Please try again shortly.',
    ],
    ['answers 404', { status: 404, body: 'no' }, "The provider's key set (JWKS) could not be read (HTTP 404)."],
    [
      'answers JSON without keys',
      { json: { keys: 'none' } },
      "The provider's key set (JWKS) could not be read (HTTP 200).",
    ],
    [
      'answers invalid JSON',
      { headers: { 'content-type': 'application/json' }, body: '{"keys": [' },
      "The provider's key set (JWKS) could not be read (HTTP 200).",
    ],
  ];

  it.each(failures)(
    'answers 502 JSON when the provider JWKS %s from the start, and recovers when it is back',
    async (_name, failure, description) => {
      const setup = await setUp({ edge: { PROVIDER_TIMEOUT: '1' } });
      await setup.provider.route('GET', '/oidc/jwks', failure);
      const token = await setup.token();

      const response = await setup.verify(token);

      expect(response.status).toBe(502);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect(await response.json()).toEqual({
        error: 'provider_unreachable',
        error_description: description,
        code: 'provider_unreachable',
      });
      const api = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });
      expect(api.status).toBe(502);
      expect(await api.json()).toMatchObject({ error: 'provider_unreachable', code: 'provider_unreachable' });

      await setup.provider.serveJwks([setup.key]);
      await expectAccepted(await setup.verify(token));
    },
  );
});

describe('tokens the edge remembers having verified', () => {
  it('still expire on time: a remembered token is refused once exp (plus the 30 s leeway) has passed', async () => {
    const setup = await setUp();
    const token = await setup.token(setup.key, { exp: Math.floor(NOW / 1000) + 20 });
    await expectAccepted(await setup.verify(token));
    at(49_000);
    await expectAccepted(await setup.verify(token));
    at(51_000);
    const response = await setup.verify(token);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error_description: string }).error_description).toBe('The token has expired.');
  });

  it('still need every scope: a remembered token is refused for a scope it lacks', async () => {
    const setup = await setUp();
    const token = await setup.token();
    await expectAccepted(await setup.verify(token));
    const response = await setup.edge.fetch('/auth/verify?scope=%40t.is%2Fapi.write', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
  });

  it('are verified again as soon as the key set changes: a token of a retired key is refused right after the refetch', async () => {
    const setup = await setUp();
    const old = await setup.token();
    await expectAccepted(await setup.verify(old));
    const next = await generateTestKey('RS256');
    await setup.provider.serveJwks([next]); // the old key is retired
    at(31_000); // past the cooldown, so the new kid triggers a refetch
    await expectAccepted(await setup.verify(await setup.token(next)));
    expect(await setup.jwksFetches()).toBe(2);
    await expectUnknownKey(await setup.verify(old));
  });
});
