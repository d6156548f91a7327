/**
 * The tokens `verifyAccessToken` remembers having verified (issue #14, item 2):
 * a remembered result is keyed by everything the verification depends on
 * (issuer, audience, the provider's `jwks_uri`, its advertised algorithms, the
 * key set), so a token verified under one of them is never accepted from the
 * cache under another; the required scopes are checked on every hit.
 *
 * Calls the library function directly, as an app using `verifyAccessToken`
 * would, with the configuration and discovery of scripted providers.
 */
import { describe, expect, it, vi } from 'vitest';
import { parseConfig, type KenniEdgeConfig } from '../../src/config.ts';
import { loadProvider, verifyAccessToken } from '../../src/provider/index.ts';
import {
  accessToken,
  API_SCOPE,
  AUDIENCE,
  CLIENT_ID,
  freezeDateEachTest,
  NOW,
  startKeyedProvider,
} from '../support/bearer.ts';
import { createTestEdge } from '../support/edge.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import { generateTestKey, TEST_SUBJECT, type TestKey } from '../support/token-factory.ts';

/** A scripted provider with one RS256 key, and the configuration of an edge in front of it. */
async function setUp(
  options: { discovery?: Record<string, unknown>; edge?: Record<string, unknown> } = {},
): Promise<{ provider: ScriptedProvider; key: TestKey; config: KenniEdgeConfig }> {
  // A document pointing at another tenant's key set is served as it is.
  const { provider, key } = await startKeyedProvider({
    discovery: options.discovery,
    serveJwks: !options.discovery?.jwks_uri,
  });
  const config = parseConfig(
    createTestEdge({ KENNI_ISSUER: provider.issuer, KENNI_CLIENT_ID: CLIENT_ID, ...options.edge }).env,
  );
  return { provider, key, config };
}

freezeDateEachTest();

describe('a token the edge remembers having verified', () => {
  it('is not accepted from the cache for another audience', async () => {
    const { provider, key, config } = await setUp();
    const server = await loadProvider(config).discovery();
    const token = await accessToken(provider, key);
    expect((await verifyAccessToken(config, server, token)).claims.aud).toBe(AUDIENCE);

    await expect(verifyAccessToken(config, server, token, { audience: '@t.is/other-api' })).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'invalid_aud',
    });
    const otherApi = parseConfig(
      createTestEdge({
        KENNI_ISSUER: provider.issuer,
        KENNI_CLIENT_ID: CLIENT_ID,
        KENNI_API_AUDIENCE: '@t.is/other-api',
      }).env,
    );
    await expect(verifyAccessToken(otherApi, server, token)).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'invalid_aud',
    });
  });

  it('is not accepted from the cache for another issuer that publishes the same jwks_uri', async () => {
    const first = await setUp();
    const second = await setUp({ discovery: { jwks_uri: first.provider.endpoints.jwks_uri } });
    const firstServer = await loadProvider(first.config).discovery();
    const secondServer = await loadProvider(second.config).discovery();
    expect(secondServer.jwks_uri).toBe(firstServer.jwks_uri);
    const token = await accessToken(first.provider, first.key);
    expect((await verifyAccessToken(first.config, firstServer, token)).claims.iss).toBe(first.provider.issuer);

    await expect(verifyAccessToken(second.config, secondServer, token)).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'invalid_iss',
    });
  });

  it('is not accepted from the cache under another jwks_uri whose key set lacks its key', async () => {
    const { provider, key, config } = await setUp();
    const server = await loadProvider(config).discovery();
    const token = await accessToken(provider, key);
    await verifyAccessToken(config, server, token);
    // The provider moves its keys (discovery now names another key set, without this key).
    await provider.route('GET', '/oidc/jwks-next', { json: { keys: [(await generateTestKey('RS256')).publicJwk] } });

    await expect(
      verifyAccessToken(config, { ...server, jwks_uri: provider.url('/oidc/jwks-next') }, token),
    ).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'unknown_key',
    });
    expect(await provider.requests({ path: '/oidc/jwks-next' })).toHaveLength(1);
  });

  it('is verified again after the key set changes in the isolate', async () => {
    const { provider, key, config } = await setUp();
    const server = await loadProvider(config).discovery();
    const token = await accessToken(provider, key);
    await verifyAccessToken(config, server, token);
    const next = await generateTestKey('RS256');
    await provider.serveJwks([next]); // the provider retires the key

    // Past the refetch cooldown, a token of the new key makes the isolate load the new set: a new generation.
    vi.setSystemTime(NOW + 31_000);
    await verifyAccessToken(config, server, await accessToken(provider, next));
    await expect(verifyAccessToken(config, server, token)).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'unknown_key',
    });
    expect(await provider.requests({ path: '/oidc/jwks' })).toHaveLength(2);
  });

  it('is not accepted from the cache once the provider stops advertising its algorithm', async () => {
    const { provider, key, config } = await setUp({
      discovery: { id_token_signing_alg_values_supported: ['RS256', 'ES256'] },
    });
    const server = await loadProvider(config).discovery();
    const token = await accessToken(provider, key);
    await verifyAccessToken(config, server, token);

    await expect(
      verifyAccessToken(config, { ...server, id_token_signing_alg_values_supported: ['ES256'] }, token),
    ).rejects.toMatchObject({
      code: 'bearer_invalid',
      status: 401,
      reason: 'algorithm_not_allowed',
    });
  });

  it('must still carry every required scope on a hit', async () => {
    const { provider, key, config } = await setUp();
    const server = await loadProvider(config).discovery();
    const token = await accessToken(provider, key);
    expect([...(await verifyAccessToken(config, server, token, { requiredScopes: [API_SCOPE] })).scopes]).toEqual([
      API_SCOPE,
    ]);

    await expect(
      verifyAccessToken(config, server, token, { requiredScopes: [API_SCOPE, '@t.is/orders.write'] }),
    ).rejects.toMatchObject({
      code: 'insufficient_scope',
      status: 403,
      scope: `${API_SCOPE} @t.is/orders.write`,
    });
    // The same token, the same key: the positive neighbour is served (from the cache) without a second JWKS fetch.
    expect((await verifyAccessToken(config, server, token, { requiredScopes: [API_SCOPE] })).claims.sub).toBe(
      TEST_SUBJECT,
    );
    expect(await provider.requests({ path: '/oidc/jwks' })).toHaveLength(1);
  });
});
