/**
 * A shared provider call whose first request went away (issue 9, item 5;
 * jose#355 on Workers): a promise started by request A and awaited by request
 * B never settles for B once A is cancelled, because the fetch it waits on was
 * A's. Here A's fetch simply never answers (the scripted provider hangs on the
 * first request, with the longest provider timeout), which is what B sees in
 * that case. B must still settle: after its own wait it does the work itself.
 *
 * Only `setTimeout` is faked, so the waiter's timer can be run forward; the
 * provider's own timeout (AbortSignal.timeout) stays real and far away.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getClientCredentialsToken } from '../../src/m2m/client-credentials.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { createScriptedProvider, tokenResponse, type ScriptedProvider } from '../support/scripted-provider.ts';
import { generateTestKey, makeAccessTokenClaims, signJwt } from '../support/token-factory.ts';

const DISCOVERY_PATH = '/.well-known/openid-configuration';
/** PROVIDER_TIMEOUT at its maximum, so A's own fetch does not end within the test. */
const PROVIDER_TIMEOUT_SECONDS = 60;
/** How long a request waits on a shared call before doing it itself: one provider timeout plus 5 s. */
const WAIT_MS = PROVIDER_TIMEOUT_SECONDS * 1000 + 5_000;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Polls (on real I/O with the scripted provider, never on time) until `done()`. */
async function until(provider: ScriptedProvider, what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let round = 0; round < 500; round++) {
    if (await done()) return;
    await provider.requests();
  }
  throw new Error(`gave up waiting until ${what}`);
}

/**
 * Request A starts the shared call and hangs on it at the provider; request B
 * joins (its own wait timer is the second pending timer); B's wait runs out.
 * Returns B's and A's outcomes.
 */
async function raceAfterHang<T>(
  provider: ScriptedProvider,
  send: () => Promise<T>,
  path: string,
  waitMs = WAIT_MS,
): Promise<[T, T]> {
  const first = send();
  await until(provider, `A's request reached ${path}`, async () => (await provider.requests({ path })).length === 1);
  expect(vi.getTimerCount()).toBe(1);
  const second = send();
  await until(provider, 'B waits on the shared call', () => vi.getTimerCount() === 2);
  await vi.advanceTimersByTimeAsync(waitMs);
  return Promise.all([second, first]);
}

function edgeFor(provider: ScriptedProvider): TestEdge {
  return createTestEdge({
    KENNI_ISSUER: provider.issuer,
    KENNI_CLIENT_ID: '@t.is/web',
    KENNI_API_SCOPE: '@t.is/orders.read',
    PROVIDER_TIMEOUT: String(PROVIDER_TIMEOUT_SECONDS),
  });
}

describe('a shared provider call whose first request never gets an answer', () => {
  it('discovery: the request waiting on it fetches the document itself and the login goes on', async () => {
    const provider = await createScriptedProvider();
    const document = await provider.serveDiscovery();
    await provider.route('GET', DISCOVERY_PATH, [{ hang: true }, { json: document }]);
    const edge = edgeFor(provider);

    const [second, first] = await raceAfterHang(
      provider,
      () => edge.fetch('/auth/login', { jar: false }),
      DISCOVERY_PATH,
    );

    expect(second.status).toBe(302);
    expect(second.headers.get('location')!.startsWith(`${provider.endpoints.authorization_endpoint}?`)).toBe(true);
    // The abandoned call was aborted; had A still been there, it would have moved on too.
    expect(first.status).toBe(302);
    expect((await provider.requests({ path: DISCOVERY_PATH })).length).toBeGreaterThanOrEqual(2);
  });

  it('JWKS: the request waiting on it loads the keys itself and the token is verified', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery();
    const key = await generateTestKey('RS256');
    const keySet = await provider.serveJwks([key]);
    await provider.route('GET', '/oidc/jwks', [{ hang: true }, { json: keySet }]);
    const edge = edgeFor(provider);
    await edge.fetch('/auth/login', { jar: false }); // discovery is warm: the shared call under test is the JWKS
    const token = await signJwt(
      key,
      makeAccessTokenClaims({ issuer: provider.issuer, audience: '@t.is/web-api', scope: '@t.is/orders.read' }),
    );

    const [second, first] = await raceAfterHang(
      provider,
      () => edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` }, jar: false }),
      '/oidc/jwks',
    );

    expect(second.status).toBe(200);
    expect(first.status).toBe(200);
  });

  it('client credentials: the call waiting on it asks for a token itself', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery();
    await provider.serveToken([
      { hang: true },
      tokenResponse({ access_token: 'M2M-AFTER-TAKEOVER', expires_in: 3600 }),
    ]);
    const env = edgeFor(provider).env;
    // Discovery and the token request are two provider calls in one shared run: the wait covers both timeouts.
    const m2mWaitMs = 2 * PROVIDER_TIMEOUT_SECONDS * 1000 + 5_000;

    const [second, first] = await raceAfterHang(
      provider,
      () => getClientCredentialsToken(env, { scope: 'api.read' }),
      '/oidc/token',
      m2mWaitMs,
    );

    expect(second.access_token).toBe('M2M-AFTER-TAKEOVER');
    expect(first.access_token).toBe('M2M-AFTER-TAKEOVER');
  });
});

describe('a shared provider call that never gets an answer, however often it is tried', () => {
  it('ends in 502 provider_unreachable for every request waiting on it, not a hang or a 500', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery();
    await provider.route('GET', DISCOVERY_PATH, { hang: true });
    const edge = edgeFor(provider);
    const send = () => edge.fetch('/auth/login', { jar: false, headers: { accept: 'application/json' } });

    const first = send();
    await until(
      provider,
      "A's request reached discovery",
      async () => (await provider.requests({ path: DISCOVERY_PATH })).length === 1,
    );
    const second = send();
    await until(provider, 'B waits on the shared call', () => vi.getTimerCount() === 2);
    await vi.advanceTimersByTimeAsync(WAIT_MS); // B gives up on A's call and tries itself: that hangs too
    await until(
      provider,
      "B's own request reached discovery",
      async () => (await provider.requests({ path: DISCOVERY_PATH })).length === 2,
    );
    await vi.advanceTimersByTimeAsync(WAIT_MS);

    for (const response of await Promise.all([second, first])) {
      expect(response.status).toBe(502);
      expect(await response.text()).toContain('provider_unreachable');
    }
  });
});
