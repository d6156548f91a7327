/**
 * Step-up (`max_auth_age`, issue 11 item 4): a session or token whose
 * `auth_time` is older than the route allows gets a 302 to a `max_age` login
 * (page navigations) or the RFC 9470 401 challenge (everything else); the
 * login passes `max_age` on and the callback refuses an ID token whose
 * `auth_time` is older, so a provider that ignores `max_age` cannot satisfy the
 * route. The edge's clock is faked (`Date` only).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { authAgeProblem } from '../../src/access/step-up.ts';
import { captureLogs } from '../support/log-capture.ts';
import { CROSS_SITE_NAVIGATION, GUDRUN, THORDUR } from '../support/presets.ts';
import { serveLoginTokens } from '../support/scripted-login.ts';
import {
  accessToken,
  CLIENT_ID,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from '../gateway/helpers.ts';
import { signJwt } from '../support/token-factory.ts';
import {
  callbackWithIdToken,
  expectLoginRefused,
  expectLoginSucceeded,
  idTokenClaims,
  setUpHostileProvider,
  startLogin,
  watchLogs,
  type LogWatch,
} from '../auth/hostile-provider-helpers.ts';

/** A whole second, so `auth_time` (seconds) and the clock line up exactly. */
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const t0 = T0 / 1000;
/** `CLOCK_TOLERANCE` in the test configuration (the default). */
const TOLERANCE = 30;
const at = (seconds: number) => vi.setSystemTime(T0 + seconds * 1000);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

const SESSION_CHALLENGE =
  'Bearer realm="kenni-edge", error="insufficient_user_authentication", ' +
  'error_description="This route needs a sign-in at most 60 seconds old. Please sign in again.", max_age=60';

const STEP_ROUTES = [
  { path: '/step', max_auth_age: 60 },
  { path: '/admin', allow: [{ national_id: [THORDUR.national_id] }], max_auth_age: 60 },
  { path: '/api/step', api: true, max_auth_age: 300 },
];

async function stepUpSetup(): Promise<GatewaySetup> {
  const setup = await setUpGateway({ edge: { ROUTES: JSON.stringify(STEP_ROUTES) } });
  await setup.routeOrigin('GET', '/step', { status: 200, body: 'step area' });
  await setup.routeOrigin('GET', '/admin', { status: 200, body: 'admin area' });
  await setup.routeOrigin('GET', '/api/step', { status: 200, body: 'api step' });
  await setup.routeOrigin('GET', '/api/orders', { status: 200, body: 'orders' });
  return setup;
}

describe('authAgeProblem (the one rule for the callback and the routes)', () => {
  it.each([
    ['exactly N + tolerance old', t0, 60, t0 + 90, undefined],
    ['one second older', t0, 60, t0 + 91, 'auth_time_too_old'],
    ['max_age 0, just signed in', t0, 0, t0 + 5, undefined],
    ['missing', undefined, 60, t0, 'auth_time_missing'],
    ['a string', String(t0), 60, t0, 'auth_time_missing'],
    ['NaN', Number.NaN, 60, t0, 'auth_time_missing'],
    ['in the future beyond the tolerance', t0 + 31, 60, t0, 'auth_time_in_future'],
    ['in the future within the tolerance', t0 + 30, 60, t0, undefined],
  ])('%s', (_label, authTime, maxAge, now, expected) => {
    expect(authAgeProblem(authTime, maxAge, now, TOLERANCE)).toBe(expected);
  });
});

describe('a session on a max_auth_age route', () => {
  it('passes while recent (cache hits included), then a navigation gets 302 to a max_age login and a fetch the 401 challenge', async () => {
    const setup = await stepUpSetup();
    await signIn(setup, { claims: { ...THORDUR } });
    at(60 + TOLERANCE);
    const fresh = await setup.edge.fetch('/step?a=1', { headers: NAVIGATION });
    expect(fresh.status).toBe(200);
    expect(await fresh.text()).toBe('step area');

    at(61 + TOLERANCE);
    const logs = captureLogs();
    const navigation = await setup.edge.fetch('/step?a=1', { headers: NAVIGATION });
    expect(navigation.status).toBe(302);
    expect(navigation.headers.get('location')).toBe('/auth/login?return_to=%2Fstep%3Fa%3D1&max_age=60');
    expect(navigation.headers.get('cache-control')).toBe('no-store');
    expect(navigation.headers.get('www-authenticate')).toBeNull();

    const fetched = await setup.edge.fetch('/step?a=1', { headers: SAME_ORIGIN_FETCH });
    expect(fetched.status).toBe(401);
    expect(fetched.headers.get('www-authenticate')).toBe(SESSION_CHALLENGE);
    expect(fetched.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await fetched.json()).toEqual({
      error: 'insufficient_user_authentication',
      error_description: 'This route needs a sign-in at most 60 seconds old. Please sign in again.',
      code: 'insufficient_user_authentication',
      max_age: 60,
    });
    expect((await setup.originRequests()).map((request) => request.path)).toEqual(['/origin/step']);
    const denied = logs.events().filter((event) => event.event === 'access_denied');
    expect(denied).toEqual([
      expect.objectContaining({ reason: 'step_up_required', detail: 'auth_time_too_old, session', path: '/step' }),
      expect.objectContaining({ reason: 'step_up_required', detail: 'auth_time_too_old, session', path: '/step' }),
    ]);
    // The log names the kind of problem, never the time itself.
    expect(JSON.stringify(denied)).not.toContain(String(t0));
  });

  it('a session without auth_time is sent to sign in again at once', async () => {
    const setup = await stepUpSetup();
    await signIn(setup, { claims: { ...THORDUR, auth_time: undefined } });
    const navigation = await setup.edge.fetch('/step', { headers: NAVIGATION });
    expect(navigation.status).toBe(302);
    expect(navigation.headers.get('location')).toBe('/auth/login?return_to=%2Fstep&max_age=60');
    // Routes without max_auth_age do not care.
    expect((await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
  });

  it('a 403 beats step-up: an identity the rules refuse gets the 403, never a sign-in loop', async () => {
    const setup = await stepUpSetup();
    await signIn(setup, { claims: { ...GUDRUN } });
    at(3600);
    const refused = await setup.edge.fetch('/admin', { headers: NAVIGATION });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    expect(await refused.text()).toContain('Error code: <code>access_denied</code>');
  });

  it('the step-up login passes max_age to the provider, a fresh auth_time gets in', async () => {
    const setup = await stepUpSetup();
    await signIn(setup, { claims: { ...THORDUR } });
    at(600);
    const navigation = await setup.edge.fetch('/step', { headers: NAVIGATION });
    const login = await setup.edge.fetch(navigation.headers.get('location')!, { headers: NAVIGATION });
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get('location')!);
    expect(authorize.searchParams.get('max_age')).toBe('60');
    await serveLoginTokens(setup.provider, setup.key, {
      nonce: authorize.searchParams.get('nonce')!,
      clientId: CLIENT_ID,
      claims: { ...THORDUR, auth_time: t0 + 598 },
    });
    const callback = await setup.edge.fetch(
      `/auth/callback?${new URLSearchParams({ code: 'c2', state: authorize.searchParams.get('state')!, iss: setup.provider.issuer })}`,
      { headers: CROSS_SITE_NAVIGATION },
    );
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect(callback.headers.get('location')).toBe('/step');
    const admitted = await setup.edge.fetch('/step', { headers: NAVIGATION });
    expect(admitted.status).toBe(200);
    expect(await admitted.text()).toBe('step area');
  });
});

describe('a bearer token on a max_auth_age route', () => {
  const challenge =
    'Bearer realm="kenni-edge", error="insufficient_user_authentication", ' +
    `error_description="This route needs a sign-in at most 300 seconds old: the token's auth_time is missing or older.", max_age=300, ` +
    // An API route: its challenge names the protected resource metadata (RFC 9728 §5.1).
    'resource_metadata="https://edge.test/.well-known/oauth-protected-resource"';

  it('fresh auth_time passes; stale or missing gets the 401 challenge; the verified-token cache skips nothing', async () => {
    const setup = await stepUpSetup();
    const bearer = async (claims: Record<string, unknown>) => ({
      authorization: `Bearer ${await accessToken(setup, { sub: THORDUR.sub, national_id: THORDUR.national_id, ...claims })}`,
    });
    at(1000);
    const fresh = await setup.edge.fetch('/api/step', { headers: await bearer({ auth_time: t0 + 700 }), jar: false });
    expect(fresh.status, await fresh.clone().text()).toBe(200);

    const staleHeaders = await bearer({ auth_time: t0 + 669 });
    // Accepted where no step-up is asked (and now in the verified-token cache)...
    expect((await setup.edge.fetch('/api/orders', { headers: staleHeaders, jar: false })).status).toBe(200);
    // ...and still refused on the step-up route.
    for (const headers of [staleHeaders, await bearer({ auth_time: undefined })]) {
      const refused = await setup.edge.fetch('/api/step', { headers: { ...headers, ...NAVIGATION }, jar: false });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('location')).toBeNull();
      expect(refused.headers.get('www-authenticate')).toBe(challenge);
      expect(await refused.json()).toMatchObject({ error: 'insufficient_user_authentication', max_age: 300 });
    }
    expect((await setup.originRequests()).map((request) => request.path)).toEqual([
      '/origin/api/step',
      '/origin/api/orders',
    ]);
  });
});

describe('GET /auth/login?max_age=N', () => {
  it('passes a whole number of seconds (0 to one year) on to the provider', async () => {
    const setup = await stepUpSetup();
    for (const value of ['0', '60', '31536000']) {
      const login = await setup.edge.fetch(`/auth/login?return_to=%2Fstep&max_age=${value}`, { jar: false });
      expect(login.status).toBe(302);
      expect(new URL(login.headers.get('location')!).searchParams.getAll('max_age'), value).toEqual([value]);
    }
  });

  it('drops anything else, as it drops an unknown prompt', async () => {
    const setup = await stepUpSetup();
    for (const value of ['-1', 'abc', '1.5', '1e3', '31536001', '', '%2060', '0x10', '9999999999']) {
      const login = await setup.edge.fetch(`/auth/login?max_age=${value}`, { jar: false });
      expect(login.status, value).toBe(302);
      expect(new URL(login.headers.get('location')!).searchParams.has('max_age'), value).toBe(false);
    }
  });
});

describe('the callback of a step-up login (a provider that ignores max_age)', () => {
  let logs: LogWatch;
  beforeEach(() => {
    logs = watchLogs();
  });
  const STEP_LOGIN = '/auth/login?return_to=%2Fdashboard&max_age=60';

  it('refuses an ID token whose auth_time is older than max_age + tolerance: 400 login_too_old, no session, no loop', async () => {
    const setup = await setUpHostileProvider();
    at(3600);
    const login = await startLogin(setup.edge, STEP_LOGIN);
    expect(login.authorizationUrl.searchParams.get('max_age')).toBe('60');
    // The provider kept its hour-old single sign-on session and ignored max_age.
    const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { auth_time: t0 + 3600 - 91 }));
    const page = await expectLoginRefused(setup, await callbackWithIdToken(setup, login, idToken), {
      status: 400,
      code: 'login_too_old',
      login,
      logs,
    });
    // The way on is a fresh sign-in the person starts (prompt=login), never an automatic redirect.
    expect(page).toContain('href="/auth/login?return_to=%2Fdashboard&#38;max_age=60&#38;prompt=login"');
  });

  it('refuses an ID token without auth_time', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge, STEP_LOGIN);
    const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { auth_time: undefined }));
    await expectLoginRefused(setup, await callbackWithIdToken(setup, login, idToken), {
      status: 400,
      code: 'login_too_old',
      login,
      logs,
    });
  });

  it('accepts an auth_time exactly max_age + tolerance old (control)', async () => {
    const setup = await setUpHostileProvider();
    at(3600);
    const login = await startLogin(setup.edge, STEP_LOGIN);
    const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { auth_time: t0 + 3600 - 90 }));
    await expectLoginSucceeded(setup, await callbackWithIdToken(setup, login, idToken));
  });

  it('a login that asked no max_age (or a malformed one) keeps accepting an old auth_time', async () => {
    for (const path of ['/auth/login?return_to=%2Fdashboard', '/auth/login?return_to=%2Fdashboard&max_age=-5']) {
      const setup = await setUpHostileProvider();
      at(3600);
      const login = await startLogin(setup.edge, path);
      const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { auth_time: t0 }));
      await expectLoginSucceeded(setup, await callbackWithIdToken(setup, login, idToken));
    }
  });
});
