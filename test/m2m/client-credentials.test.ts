/**
 * Machine-to-machine tokens (issue #5): `getClientCredentialsToken(env, { scope })`
 * authenticates with client_secret_basic, form-encoding id and secret first
 * (RFC 6749 §2.3.1), and caches each client + scope in the isolate and, sealed,
 * in the Cache API until shortly before expiry; concurrent misses share one request.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { AppError, getClientCredentialsToken, type Env } from '../../src/index.ts';
import { readEdgeCache } from '../../src/provider/edge-cache.ts';
import { loadProvider } from '../../src/provider/index.ts';
import { sha256Hex } from '../../src/session/seal.ts';
import { createTestEdge } from '../support/edge.ts';
import { report } from '../support/log-capture.ts';
import {
  createScriptedProvider,
  tokenError,
  tokenResponse,
  type ScriptedProvider,
} from '../support/scripted-provider.ts';

const M2M_CLIENT_ID = '@t.is/m2m';
const M2M_CLIENT_SECRET = 'a:b+c%d/e=f é';

afterEach(() => {
  vi.useRealTimers();
});

async function createProvider(): Promise<ScriptedProvider> {
  const provider = await createScriptedProvider();
  await provider.serveDiscovery();
  return provider;
}

/** The environment a Worker would have with the scripted provider and the M2M credentials (as createTestEdge builds it). */
function m2mEnv(provider: ScriptedProvider, overrides: Partial<Record<keyof Env, unknown>> = {}): Env {
  return createTestEdge({
    KENNI_ISSUER: provider.issuer,
    KENNI_M2M_CLIENT_ID: M2M_CLIENT_ID,
    KENNI_M2M_CLIENT_SECRET: M2M_CLIENT_SECRET,
    ...overrides,
  }).env;
}

async function tokenRequests(provider: ScriptedProvider) {
  return provider.requests({ method: 'POST', path: '/oidc/token' });
}

/** application/x-www-form-urlencoded decoding of one value. */
function formDecode(value: string): string {
  return new URLSearchParams(`v=${value}`).get('v')!;
}

function startClock() {
  vi.useFakeTimers({ toFake: ['Date'] });
  const start = Math.floor(Date.now() / 1000) * 1000;
  vi.setSystemTime(start);
  return { start, at: (seconds: number) => vi.setSystemTime(start + seconds * 1000) };
}

describe('getClientCredentialsToken: the token request', () => {
  it('sends Basic with id and secret form-encoded byte for byte as oauth4webapi does, grant_type=client_credentials and the scope', async () => {
    const provider = await createProvider();
    await provider.serveToken(tokenResponse({ access_token: 'M2M-1', expires_in: 3600, scope: '@t.is/orders.read' }));

    const token = await getClientCredentialsToken(m2mEnv(provider), { scope: '@t.is/orders.read' });

    // oauth4webapi normalises token_type to lower case.
    expect(token).toMatchObject({ access_token: 'M2M-1', token_type: 'bearer', scope: '@t.is/orders.read' });
    const [request] = await tokenRequests(provider);
    // oauth4webapi's formUrlEncode: encodeURIComponent, then also "-_.!~*'()" as %XX, and %20 as "+".
    const encodedId = '%40t%2Eis%2Fm2m';
    const encodedSecret = 'a%3Ab%2Bc%25d%2Fe%3Df+%C3%A9';
    expect(request!.headers.authorization).toBe('Basic JTQwdCUyRWlzJTJGbTJtOmElM0FiJTJCYyUyNWQlMkZlJTNEZislQzMlQTk=');
    expect(request!.headers.authorization).toBe(`Basic ${btoa(`${encodedId}:${encodedSecret}`)}`);
    const [user, password, ...rest] = atob(request!.headers.authorization!.slice('Basic '.length)).split(':');
    expect(rest).toEqual([]);
    expect(formDecode(user!)).toBe(M2M_CLIENT_ID);
    expect(formDecode(password!)).toBe(M2M_CLIENT_SECRET);
    expect(request!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request!.form).toEqual({ grant_type: 'client_credentials', scope: '@t.is/orders.read' });
  });

  it('sends no scope parameter when none is asked for', async () => {
    const provider = await createProvider();
    await provider.serveToken(tokenResponse({ access_token: 'M2M-1', expires_in: 3600 }));

    await getClientCredentialsToken(m2mEnv(provider));

    expect((await tokenRequests(provider))[0]!.form).toEqual({ grant_type: 'client_credentials' });
  });

  it('throws AppError m2m_not_configured (500) without KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET, and asks nobody', async () => {
    const provider = await createProvider();
    const env = createTestEdge({
      KENNI_ISSUER: provider.issuer,
      KENNI_M2M_CLIENT_ID: undefined,
      KENNI_M2M_CLIENT_SECRET: undefined,
    }).env;

    const attempt = getClientCredentialsToken(env, { scope: 'x' });

    await expect(attempt).rejects.toBeInstanceOf(AppError);
    await expect(attempt).rejects.toMatchObject({ code: 'm2m_not_configured', status: 500 });
    expect(await provider.requests()).toEqual([]);
  });

  it('throws provider_unreachable (502) when the token endpoint answers 503, and does not cache the failure', async () => {
    const provider = await createProvider();
    await provider.serveToken([{ status: 503 }, tokenResponse({ access_token: 'M2M-1', expires_in: 3600 })]);
    const env = m2mEnv(provider);

    await expect(getClientCredentialsToken(env, { scope: 's' })).rejects.toMatchObject({
      code: 'provider_unreachable',
      status: 502,
    });
    await expect(getClientCredentialsToken(env, { scope: 's' })).resolves.toMatchObject({ access_token: 'M2M-1' });
    expect(await tokenRequests(provider)).toHaveLength(2);
  });

  it('throws provider_misconfigured (502) when the provider refuses the client (invalid_client)', async () => {
    const provider = await createProvider();
    await provider.serveToken(tokenError('invalid_client', 'client authentication failed', 401));

    await expect(getClientCredentialsToken(m2mEnv(provider), { scope: 's' })).rejects.toMatchObject({
      code: 'provider_misconfigured',
      status: 502,
    });
  });
});

describe('getClientCredentialsToken: the cache', () => {
  it('asks the provider once for 100 calls, still not 1 s before the renewal point (60 s before expiry), and again at it', async () => {
    const clock = startClock();
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-1', expires_in: 3600 }),
      tokenResponse({ access_token: 'M2M-2', expires_in: 3600 }),
    ]);
    const env = m2mEnv(provider);

    const tokens = [];
    for (let call = 0; call < 100; call++) tokens.push(await getClientCredentialsToken(env, { scope: 'api.read' }));
    expect(await tokenRequests(provider)).toHaveLength(1);
    expect(new Set(tokens.map((token) => token.access_token))).toEqual(new Set(['M2M-1']));
    expect(tokens[0]).toMatchObject({ expires_at: clock.start / 1000 + 3600, renew_at: clock.start / 1000 + 3540 });

    clock.at(3600 - 60 - 1);
    expect((await getClientCredentialsToken(env, { scope: 'api.read' })).access_token).toBe('M2M-1');
    expect(await tokenRequests(provider)).toHaveLength(1);

    clock.at(3600 - 60);
    expect((await getClientCredentialsToken(env, { scope: 'api.read' })).access_token).toBe('M2M-2');
    expect(await tokenRequests(provider)).toHaveLength(2);
  });

  it('renews a short-lived token a tenth of its life before expiry', async () => {
    const clock = startClock();
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-1', expires_in: 300 }),
      tokenResponse({ access_token: 'M2M-2', expires_in: 300 }),
    ]);
    const env = m2mEnv(provider);

    expect(await getClientCredentialsToken(env)).toMatchObject({
      access_token: 'M2M-1',
      renew_at: clock.start / 1000 + 270,
    });
    clock.at(269);
    expect((await getClientCredentialsToken(env)).access_token).toBe('M2M-1');
    clock.at(270);
    expect((await getClientCredentialsToken(env)).access_token).toBe('M2M-2');
    expect(await tokenRequests(provider)).toHaveLength(2);
  });

  it('caches different scopes separately, and the same scopes in any order together', async () => {
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-AB', expires_in: 3600 }),
      tokenResponse({ access_token: 'M2M-C', expires_in: 3600 }),
    ]);
    const env = m2mEnv(provider);

    const ab = await getClientCredentialsToken(env, { scope: 'b a' });
    const ba = await getClientCredentialsToken(env, { scope: ' a  b ' });
    const c = await getClientCredentialsToken(env, { scope: 'c' });
    const abAgain = await getClientCredentialsToken(env, { scope: 'a b' });

    expect([ab.access_token, ba.access_token, c.access_token, abAgain.access_token]).toEqual([
      'M2M-AB',
      'M2M-AB',
      'M2M-C',
      'M2M-AB',
    ]);
    expect((await tokenRequests(provider)).map((request) => request.form?.scope)).toEqual(['a b', 'c']);
  });

  it('shares one request among 20 concurrent misses', async () => {
    const provider = await createProvider();
    await provider.serveToken([
      { ...tokenResponse({ access_token: 'M2M-1', expires_in: 3600 }), delayMs: 100 },
      tokenResponse({ access_token: 'M2M-2', expires_in: 3600 }),
    ]);
    const env = m2mEnv(provider);
    const stats = loadProvider(loadConfig(env)).stats;
    const before = stats.clientCredentialsRequests;

    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => getClientCredentialsToken(env, { scope: 'api.read' })),
    );

    expect(tokens.map((token) => token.access_token)).toEqual(Array(20).fill('M2M-1'));
    expect(await tokenRequests(provider)).toHaveLength(1);
    expect(stats.clientCredentialsRequests - before).toBe(1);
  });

  it('serves a cold isolate from the sealed Cache API entry without asking the provider, and keeps the token out of it in plain text', async () => {
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-secret-access-token-1', expires_in: 3600 }),
      tokenResponse({ access_token: 'M2M-2', expires_in: 3600 }),
    ]);
    const env = m2mEnv(provider);

    const warm = await getClientCredentialsToken(env, { scope: 'api.read' });
    const cold = await getClientCredentialsToken({ ...env }, { scope: 'api.read' }); // a new isolate: the same bindings, a new env

    expect(cold).toEqual(warm);
    expect(await tokenRequests(provider)).toHaveLength(1);
    // The Cache API entry (named after a hash of issuer, client, secret and scope) holds only sealed text.
    const cacheKey = await sha256Hex([provider.issuer, M2M_CLIENT_ID, M2M_CLIENT_SECRET, 'api.read'].join('\u0000'));
    const shared = await readEdgeCache<string>(loadConfig(env), `m2m ${cacheKey}`);
    expect(shared, 'the sealed Cache API entry (its name is internal to src/m2m/client-credentials.ts)').toEqual({
      value: expect.stringMatching(/^\S+$/),
      storedAt: expect.any(Number),
    });
    const stored = JSON.stringify(shared);
    expect(stored).not.toContain('M2M-secret-access-token-1');
    expect(stored).not.toContain(M2M_CLIENT_SECRET);
    expect(stored).not.toContain(M2M_CLIENT_ID);
  });

  it('lets a cold isolate ask the provider when the shared entry is due for renewal', async () => {
    const clock = startClock();
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-1', expires_in: 3600 }),
      tokenResponse({ access_token: 'M2M-2', expires_in: 3600 }),
    ]);
    const env = m2mEnv(provider);

    await getClientCredentialsToken(env, { scope: 'api.read' });
    clock.at(3540);

    expect((await getClientCredentialsToken({ ...env }, { scope: 'api.read' })).access_token).toBe('M2M-2'); // a new isolate
    expect(await tokenRequests(provider)).toHaveLength(2);
  });

  it('does not hand out a token cached for another secret (rotating the secret asks again)', async () => {
    const provider = await createProvider();
    await provider.serveToken([
      tokenResponse({ access_token: 'M2M-OLD', expires_in: 3600 }),
      tokenResponse({ access_token: 'M2M-NEW', expires_in: 3600 }),
    ]);

    expect((await getClientCredentialsToken(m2mEnv(provider), { scope: 's' })).access_token).toBe('M2M-OLD');
    expect(
      (await getClientCredentialsToken(m2mEnv(provider, { KENNI_M2M_CLIENT_SECRET: 'rotated-secret' }), { scope: 's' }))
        .access_token,
    ).toBe('M2M-NEW');
    expect(await tokenRequests(provider)).toHaveLength(2);
  });
});

describe('provider load of client credentials', () => {
  it('measures token requests per 1,000 getClientCredentialsToken calls (within one token lifetime, and one call per second for 1,000 s)', async () => {
    const clock = startClock();
    const provider = await createProvider();
    await provider.serveToken(
      Array.from({ length: 8 }, (_, index) => tokenResponse({ access_token: `M2M-${index + 1}`, expires_in: 300 })),
    );
    const env = m2mEnv(provider);

    for (let call = 0; call < 1000; call++) await getClientCredentialsToken(env, { scope: 'api.read' });
    const burst = (await tokenRequests(provider)).length;

    // Another scope, so this run starts with an empty cache too.
    for (let second = 1; second <= 1000; second++) {
      clock.at(second);
      await getClientCredentialsToken(env, { scope: 'api.write' });
    }
    const steady = (await tokenRequests(provider)).length - burst;

    // A 300 s token is renewed 30 s (a tenth of its life) before expiry: one request per 270 s of calls.
    const expected = Math.ceil(1000 / 270);
    report(
      `measured: ${burst} token request per 1000 getClientCredentialsToken calls within one token lifetime; ${steady} per 1000 calls at 1/s (expires_in 300, renewed 30 s before expiry)`,
    );
    expect(burst).toBe(1);
    expect(steady).toBe(expected);
  });
});
