/**
 * The provider object (issue 9, item 1): one per configuration object (a new
 * configuration is a new isolate), provider-neutral key-set errors that each
 * path maps to its own error, and per-instance counters instead of globals.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type KenniEdgeConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { createProvider, KeySetError, loadProvider } from '../../src/provider/index.ts';
import { accessToken as signAccessToken, CLIENT_ID, startKeyedProvider } from '../support/bearer.ts';
import { createTestEdge } from '../support/edge.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import { generateTestKey, makeIdTokenClaims, signJwt, type TestKey } from '../support/token-factory.ts';

/** A scripted provider with one RS256 key and a configuration in front of it. */
async function setUp(): Promise<{ scripted: ScriptedProvider; key: TestKey; config: KenniEdgeConfig }> {
  const { provider: scripted, key } = await startKeyedProvider();
  const config = parseConfig(createTestEdge({ KENNI_ISSUER: scripted.issuer, KENNI_CLIENT_ID: CLIENT_ID }).env);
  return { scripted, key, config };
}

describe('loadProvider', () => {
  it('returns one provider per configuration object, and a new one for a new configuration', async () => {
    const { config } = await setUp();
    const provider = loadProvider(config);
    expect(loadProvider(config)).toBe(provider);
    expect(provider.config).toBe(config);
    expect(loadProvider(Object.freeze({ ...config }))).not.toBe(provider);
  });

  it('keeps isolate state in the instance: a fresh provider fetches again, the cached one does not', async () => {
    const { scripted, key, config } = await setUp();
    const token = await signAccessToken(scripted, key);
    const provider = loadProvider(config);
    await provider.verifyAccessToken(token);
    await provider.verifyAccessToken(await signAccessToken(scripted, key));
    expect(provider.stats).toMatchObject({ discoveryFetches: 1, jwksFetches: 1, clientCredentialsRequests: 0 });

    // A new provider object (another isolate) reads both from the Cache API: no provider request at all.
    const fresh = createProvider(config);
    await fresh.verifyAccessToken(token);
    expect(fresh.stats).toMatchObject({ discoveryFetches: 0, jwksFetches: 0 });
    expect(await scripted.requests({ path: '/oidc/jwks' })).toHaveLength(1);
  });

  it('fills the introspection slot unless KENNI_INTROSPECTION=off', async () => {
    const { config } = await setUp();
    expect(createProvider(config).introspect).toBeTypeOf('function');
    expect(createProvider({ ...config, introspection: 'off' }).introspect).toBeUndefined();
  });
});

describe('key-set errors', () => {
  it('are provider-neutral: no key for the kid is a KeySetError, not an HTTP error', async () => {
    const { config } = await setUp();
    const provider = createProvider(config);
    const server = await provider.discovery();
    const failure = await provider.keys
      .resolve(server.jwks_uri!, { alg: 'RS256', kid: 'nobody' })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KeySetError);
    expect(failure).not.toBeInstanceOf(AppError);
    expect(failure).toMatchObject({ code: 'unknown_key' });
  });

  it('name an empty key set no_keys', async () => {
    const { scripted, config } = await setUp();
    await scripted.serveJwks([]);
    const provider = createProvider(config);
    const server = await provider.discovery();
    await expect(provider.keys.resolve(server.jwks_uri!, { alg: 'RS256', kid: 'any' })).rejects.toMatchObject({
      name: 'KeySetError',
      code: 'no_keys',
    });
  });

  it('become bearer_invalid (401) on the bearer path and id_token_invalid (400) on the login path', async () => {
    const { scripted, config } = await setUp();
    const stranger = await generateTestKey('RS256');
    const provider = createProvider(config);
    const accessToken = await signAccessToken(scripted, stranger);
    const idToken = await signJwt(
      stranger,
      makeIdTokenClaims({ issuer: scripted.issuer, clientId: CLIENT_ID, nonce: 'n' }),
    );

    await expect(provider.verifyAccessToken(accessToken)).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'unknown_key',
      oauthError: 'invalid_token',
    });
    await expect(provider.verifyIdToken(idToken)).rejects.toMatchObject({ code: 'id_token_invalid', status: 400 });
  });

  it('leave a provider outage a 502 on both paths', async () => {
    const { scripted, key, config } = await setUp();
    await scripted.route('GET', '/oidc/jwks', { status: 503 });
    const provider = createProvider(config);
    const accessToken = await signAccessToken(scripted, key);
    const idToken = await signJwt(key, makeIdTokenClaims({ issuer: scripted.issuer, clientId: CLIENT_ID, nonce: 'n' }));

    await expect(provider.verifyAccessToken(accessToken)).rejects.toMatchObject({
      code: 'provider_unreachable',
      status: 502,
    });
    await expect(provider.verifyIdToken(idToken)).rejects.toMatchObject({ code: 'provider_unreachable', status: 502 });
  });
});
