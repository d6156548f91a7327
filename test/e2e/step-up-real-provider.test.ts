/**
 * Step-up (`max_auth_age`) end to end against the REAL local provider
 * (dev/provider.ts, oidc-provider) and the demo origin: a session too old for
 * the route is sent to `/auth/login?…&max_age=N`, the provider is asked for
 * `max_age`, and the route then passes; an `auth_time` older than asked is
 * refused at the callback.
 *
 * Only the edge's clock can be faked (the provider runs in Node, on the real
 * clock), so it is moved forward for the request that must find the session
 * stale. oidc-provider turns `max_age=0` into `prompt=login`: it shows the
 * login page even over its single sign-on session, as a provider honouring
 * `max_age` does.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH, SESSION_COOKIE, THORDUR } from '../support/presets.ts';
import { signInAtProvider, type SignInResult } from '../support/provider-login.ts';

const bindings = env as unknown as Env;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Moves the edge's clock to `seconds` after the real time. */
const edgeClockAhead = (seconds: number) => vi.setSystemTime(vi.getRealSystemTime() + seconds * 1000);

/** An edge whose home page (the demo origin's `/`) needs a sign-in at most `maxAuthAge` seconds old. */
function stepUpEdge(maxAuthAge: number): TestEdge {
  expect(bindings.KENNI_ISSUER).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  return createTestEdge({ ROUTES: JSON.stringify([{ path: '/', max_auth_age: maxAuthAge }]) });
}

/** `/auth/login<query>` as a navigation, through the provider's pages (with `providerCookies`: its SSO session). */
async function signIn(
  edge: TestEdge,
  loginPath: string,
  providerCookies?: SignInResult['providerCookies'],
): Promise<{ authorizationUrl: URL; provider: SignInResult; callback: Response }> {
  const login = await edge.fetch(loginPath, { headers: NAVIGATION });
  expect(login.status, await login.clone().text()).toBe(302);
  const authorizationUrl = new URL(login.headers.get('location')!);
  const provider = await signInAtProvider(authorizationUrl.href, {
    login: THORDUR.national_id,
    ...(providerCookies ? { providerCookies } : {}),
  });
  const callback = await edge.fetch(provider.callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  return { authorizationUrl, provider, callback };
}

async function authTimeOf(edge: TestEdge): Promise<number> {
  const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
  expect(me.status).toBe(200);
  return ((await me.json()) as { auth_time: number }).auth_time;
}

describe('step-up against the real provider', () => {
  it('a stale session is sent to a max_age login, the provider asks again, and the page passes', async () => {
    const edge = stepUpEdge(0);
    const first = await signIn(edge, '/auth/login?return_to=%2F');
    expect(first.callback.status).toBe(302);
    expect(first.authorizationUrl.searchParams.has('max_age')).toBe(false);
    const firstAuthTime = await authTimeOf(edge);
    const firstSession = edge.jar.get(SESSION_COOKIE);
    expect((await edge.fetch('/', { headers: NAVIGATION })).status).toBe(200);

    // 31 s past max_auth_age 0 + CLOCK_TOLERANCE 30, on the edge's clock: the session is too old for the page.
    edgeClockAhead(31);
    const logs = captureLogs();
    const stale = await edge.fetch('/', { headers: NAVIGATION });
    expect(stale.status).toBe(302);
    expect(stale.headers.get('location')).toBe('/auth/login?return_to=%2F&max_age=0');
    expect(logs.events().filter((event) => event.event === 'access_denied')).toEqual([
      expect.objectContaining({ reason: 'step_up_required', detail: 'auth_time_too_old, session' }),
    ]);

    vi.setSystemTime(vi.getRealSystemTime());
    const stepUp = await signIn(edge, stale.headers.get('location')!, first.provider.providerCookies);
    expect(stepUp.authorizationUrl.searchParams.get('max_age')).toBe('0');
    // The provider's single sign-on session would have sufficed without max_age: it showed the login page again.
    expect(stepUp.provider.pages).toContain('login');
    expect(stepUp.callback.status, await stepUp.callback.clone().text()).toBe(302);
    expect(stepUp.callback.headers.get('location')).toBe('/');
    expect(edge.jar.get(SESSION_COOKIE)).not.toBe(firstSession);
    expect(await authTimeOf(edge)).toBeGreaterThanOrEqual(firstAuthTime);

    const page = await edge.fetch('/', { headers: NAVIGATION });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('an auth_time older than the asked max_age is refused at the callback (400 login_too_old, no new session)', async () => {
    const edge = stepUpEdge(60);
    const first = await signIn(edge, '/auth/login?return_to=%2F');
    const firstSession = edge.jar.get(SESSION_COOKIE);

    // Two minutes on, by the edge's clock: the provider's session is still fresh by its own, so it does not ask again.
    edgeClockAhead(120);
    const stale = await edge.fetch('/', { headers: NAVIGATION });
    expect(stale.headers.get('location')).toBe('/auth/login?return_to=%2F&max_age=60');
    const logs = captureLogs();
    const { authorizationUrl, provider, callback } = await signIn(
      edge,
      stale.headers.get('location')!,
      first.provider.providerCookies,
    );
    expect(authorizationUrl.searchParams.get('max_age')).toBe('60');
    expect(provider.pages).not.toContain('login');
    const page = await callback.text();
    expect(callback.status, page).toBe(400);
    expect(callback.headers.get('location')).toBeNull();
    expect(page).toContain('Error code: <code>login_too_old</code>');
    expect(callback.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))).toBe(false);
    expect(edge.jar.get(SESSION_COOKIE)).toBe(firstSession);
    expect(logs.events().filter((event) => event.event === 'login_failed')).toEqual([
      expect.objectContaining({ reason: 'login_too_old', status: 400 }),
    ]);
    // Still the old session, still too old: the page keeps asking (and never lets the stale sign-in through).
    expect((await edge.fetch('/', { headers: NAVIGATION })).status).toBe(302);
  });
});
