/**
 * End to end against the real local Kenni-like provider (dev/provider.ts,
 * started by the global setup): the whole browser login over HTTP with a
 * cookie jar, from `/auth/login` through the provider's login and consent
 * pages, the callback, the session, the gateway to the demo origin, and
 * RP-initiated logout at the provider.
 *
 * The demo origin started by the global setup verifies assertions against
 * `https://edge.test/auth/jwks.json`, which it cannot reach; so these tests
 * verify the assertion it received themselves, against the worker's own
 * `/auth/jwks.json`.
 */
import { env } from 'cloudflare:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import {
  CROSS_SITE_NAVIGATION,
  GUDRUN,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  THORDUR,
} from '../support/presets.ts';
import { CookieJar, endSessionAtProvider, signInAtProvider } from '../support/provider-login.ts';

const bindings = env as unknown as Env;
const ISSUER = String(bindings.KENNI_ISSUER);
const DEMO_ORIGIN = new URL(String(bindings.ORIGIN_URL)).origin;

type DevUser = typeof THORDUR | typeof GUDRUN;

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  end_session_endpoint: string;
}

let discovery: Discovery;

beforeAll(async () => {
  const response = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  discovery = await response.json();
  expect(discovery.issuer).toBe(ISSUER);
});

interface StartedLogin {
  response: Response;
  authorizationUrl: URL;
}

/** `GET /auth/login` as a page navigation; returns the provider redirect. */
async function startLogin(edge: TestEdge, query = ''): Promise<StartedLogin> {
  const response = await edge.fetch(`/auth/login${query}`, { headers: NAVIGATION });
  expect(response.status, await bodyOf(response)).toBe(302);
  return { response, authorizationUrl: new URL(response.headers.get('location')!) };
}

interface CompletedLogin {
  authorizationUrl: URL;
  callback: Response;
  sessionId: string;
  providerCookies: CookieJar;
}

/** The whole login: `/auth/login`, the provider's forms, the callback. */
async function loginAs(edge: TestEdge, user: DevUser, query = ''): Promise<CompletedLogin> {
  const { authorizationUrl } = await startLogin(edge, query);
  const { callbackUrl, providerCookies } = await signInAtProvider(authorizationUrl.href, { login: user.national_id });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await bodyOf(callback)).toBe(302);
  const sessionId = edge.jar.get(SESSION_COOKIE);
  expect(sessionId).toMatch(/^[\w-]{43}$/);
  return { authorizationUrl, callback, sessionId: sessionId!, providerCookies };
}

type ProviderLanding = { kind: 'left'; url: URL } | { kind: 'page'; url: URL; status: number; html: string };

/**
 * Follows redirects at the provider with a browser's provider cookies (its SSO
 * session) until a page is shown or a redirect leaves the provider.
 */
async function followAtProvider(url: string, jar: CookieJar): Promise<ProviderLanding> {
  const providerOrigin = new URL(url).origin;
  let current = new URL(url);
  for (let step = 0; step < 20; step++) {
    const headers = new Headers({ accept: 'text/html' });
    const cookie = jar.header();
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(current.href, { headers, redirect: 'manual' });
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current);
      if (current.origin !== providerOrigin) return { kind: 'left', url: current };
      continue;
    }
    return { kind: 'page', url: current, status: response.status, html: await response.text() };
  }
  throw new Error(`redirect loop at the provider from ${url}`);
}

async function bodyOf(response: Response): Promise<string> {
  return response.clone().text();
}

function withCookie(sessionId: string, extra: Record<string, string> = {}): RequestInit & { jar: false } {
  return { jar: false, headers: { ...extra, cookie: `${SESSION_COOKIE}=${sessionId}` } };
}

/** A `Set-Cookie` header of the response, by cookie name. */
function setCookieFor(response: Response, name: string): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`));
}

/** No token of any kind: no JWT, no long opaque string, no token field, not the session id. */
function expectNoToken(body: string, sessionId: string) {
  expect(body).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
  expect(body).not.toMatch(/[A-Za-z0-9_-]{40,}/);
  expect(body).not.toMatch(/access_token|id_token|refresh_token/);
  expect(body).not.toContain(sessionId);
}

interface Whoami {
  sub?: string;
  national_id?: string;
  name?: string;
  bearer: boolean;
  identityHeaders: Record<string, string>;
}

async function edgeKeys(edge: TestEdge) {
  const response = await edge.fetch('/auth/jwks.json', { jar: false });
  expect(response.status).toBe(200);
  return createLocalJWKSet((await response.json()) as JSONWebKeySet);
}

describe('login against the real local provider', () => {
  it('signs in, reaches the origin as the user, and signs out at the provider', async () => {
    const edge = createTestEdge();

    // 1. /auth/login: 302 to the provider's authorization endpoint with every parameter.
    const { response: login, authorizationUrl } = await startLogin(edge, '?return_to=/account');
    expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(discovery.authorization_endpoint);
    expect(authorizationUrl.href.startsWith(`${ISSUER}/oidc/auth?`)).toBe(true);
    const params = authorizationUrl.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe('@dev-team.is/web');
    expect(params.get('redirect_uri')).toBe(`${EDGE_ORIGIN}/auth/callback`);
    expect(params.get('scope')!.split(' ')).toEqual(
      expect.arrayContaining(['openid', 'profile', 'national_id', 'offline_access', '@dev-team.is/api.read']),
    );
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.has('prompt')).toBe(false);
    expect(login.headers.getSetCookie().some((cookie) => cookie.startsWith('__Host-kenni-login-'))).toBe(true);

    // 2. The provider's login and consent pages, as a browser without JavaScript would.
    const { callbackUrl, providerCookies } = await signInAtProvider(authorizationUrl.href, {
      login: THORDUR.national_id,
    });
    const callbackTarget = new URL(callbackUrl);
    expect(`${callbackTarget.origin}${callbackTarget.pathname}`).toBe(`${EDGE_ORIGIN}/auth/callback`);
    expect(callbackTarget.searchParams.get('state')).toBe(params.get('state'));
    expect(callbackTarget.searchParams.get('iss')).toBe(ISSUER);
    expect(callbackTarget.searchParams.get('code')).toMatch(/^[\w-]{20,}$/);

    // 3. The callback: a session cookie and 302 to return_to.
    const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status, await bodyOf(callback)).toBe(302);
    expect(callback.headers.get('location')).toBe('/account');
    const sessionCookie = setCookieFor(callback, SESSION_COOKIE)!;
    expect(sessionCookie).toMatch(/^__Host-kenni-session=[A-Za-z0-9_-]{43,}; /);
    expect(sessionCookie).toMatch(/; HttpOnly/i);
    expect(sessionCookie).toMatch(/; Secure/i);
    expect(sessionCookie).toMatch(/; SameSite=Lax/i);
    expect(sessionCookie).toMatch(/; Path=\//i);
    expect(sessionCookie).not.toMatch(/; Domain=/i);
    const sessionId = edge.jar.get(SESSION_COOKIE)!;
    // The login transaction cookie is spent: only the session cookie is left.
    expect(edge.jar.names()).toEqual([SESSION_COOKIE]);

    // 4. /auth/me: who is signed in, never a token.
    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(200);
    expect(me.headers.get('cache-control')).toBe('no-store');
    const meText = await me.text();
    const meBody = JSON.parse(meText) as { sub: string; claims: Record<string, unknown>; expires_at: number };
    expect(meBody.sub).toBe(THORDUR.sub);
    expect(meBody.claims).toMatchObject({ sub: THORDUR.sub, name: THORDUR.name, national_id: THORDUR.national_id });
    expect(meBody.expires_at).toBeGreaterThan(Date.now() / 1000);
    expectNoToken(meText, sessionId);

    // 5. A page through the gateway: the demo origin shows the user from the identity headers.
    const page = await edge.fetch('/', { headers: NAVIGATION });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`Halló, <strong>${THORDUR.name}</strong>!`);
    expect(html).toContain(`<th>X-Kenni-Sub</th><td><code>${THORDUR.sub}</code></td>`);
    expect(html).toContain(`<th>X-Kenni-National-Id</th><td><code>${THORDUR.national_id}</code></td>`);
    expect(html).toContain(`<th>X-Kenni-Name</th><td>${THORDUR.name}</td>`);
    // The assertion arrived (the origin cannot fetch https://edge.test's keys; step 6 verifies it).
    expect(html).not.toContain('no X-Kenni-Assertion header');
    expectNoToken(html.replace(/<details>[\s\S]*<\/details>/, ''), sessionId);

    // 6. An API route with the session: the origin gets the session's access token and the identity.
    const whoamiResponse = await edge.fetch('/api/whoami', { headers: SAME_ORIGIN_FETCH });
    expect(whoamiResponse.status).toBe(200);
    const whoami = (await whoamiResponse.json()) as Whoami;
    expect(whoami.bearer).toBe(true);
    expect(whoami).toMatchObject({ sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name });
    expect(whoami.identityHeaders['x-kenni-auth']).toBe('session');
    const assertion = whoami.identityHeaders['x-kenni-assertion']!;
    const { payload } = await jwtVerify(assertion, await edgeKeys(edge), {
      issuer: EDGE_ORIGIN,
      audience: DEMO_ORIGIN,
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({
      sub: THORDUR.sub,
      national_id: THORDUR.national_id,
      name: THORDUR.name,
      auth: 'session',
    });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);

    // 7. Logout: the session ends here and the browser goes to the provider's end_session_endpoint.
    const logout = await edge.fetch('/auth/logout', { headers: NAVIGATION });
    expect(logout.status, await bodyOf(logout)).toBe(302);
    expect(setCookieFor(logout, SESSION_COOKIE)).toMatch(/^__Host-kenni-session=; .*Max-Age=0/i);
    expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();
    const endSession = new URL(logout.headers.get('location')!);
    expect(`${endSession.origin}${endSession.pathname}`).toBe(discovery.end_session_endpoint);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${EDGE_ORIGIN}/`);
    expect(endSession.searchParams.get('client_id')).toBe('@dev-team.is/web');
    const idTokenHint = endSession.searchParams.get('id_token_hint')!;
    expect(decodeJwt(idTokenHint)).toMatchObject({
      iss: ISSUER,
      sub: THORDUR.sub,
      aud: '@dev-team.is/web',
      nonce: params.get('nonce'),
    });
    // The ID token was never shown to the browser before logout.
    expect(meText).not.toContain(idTokenHint);
    expect(html).not.toContain(idTokenHint);

    const backAt = await endSessionAtProvider(endSession.href, providerCookies);
    expect(backAt).toBe(`${EDGE_ORIGIN}/`);

    // 8. The old cookie is dead, and so is the provider's SSO session.
    const meAfter = await edge.fetch('/auth/me', withCookie(sessionId, SAME_ORIGIN_FETCH));
    expect(meAfter.status).toBe(401);
    expect(await meAfter.json()).toMatchObject({ code: 'session_required' });
    const pageAfter = await edge.fetch('/', withCookie(sessionId, NAVIGATION));
    expect(pageAfter.status).toBe(302);
    expect(pageAfter.headers.get('location')).toBe('/auth/login?return_to=%2F');
    const apiAfter = await edge.fetch('/api/whoami', withCookie(sessionId, SAME_ORIGIN_FETCH));
    expect(apiAfter.status).toBe(401);

    const { authorizationUrl: again } = await startLogin(edge);
    const landing = await followAtProvider(again.href, providerCookies);
    expect(landing.kind, 'the provider should ask who signs in again').toBe('page');
    if (landing.kind === 'page') {
      expect(landing.status).toBe(200);
      expect(landing.html).toContain('Innskráning / Sign in');
    }
  });

  it('gives a second user in another browser their own claims', async () => {
    const first = createTestEdge();
    const second = createTestEdge();
    const thordur = await loginAs(first, THORDUR, '?return_to=/');
    const gudrun = await loginAs(second, GUDRUN, '?return_to=/');
    expect(gudrun.sessionId).not.toBe(thordur.sessionId);

    const meFirst = await (await first.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })).json();
    const meSecond = await (await second.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })).json();
    expect(meFirst).toMatchObject({
      sub: THORDUR.sub,
      claims: { name: THORDUR.name, national_id: THORDUR.national_id },
    });
    expect(meSecond).toMatchObject({ sub: GUDRUN.sub, claims: { name: GUDRUN.name, national_id: GUDRUN.national_id } });

    const html = await (await second.fetch('/', { headers: NAVIGATION })).text();
    expect(html).toContain(`Halló, <strong>${GUDRUN.name}</strong>!`);
    expect(html).toContain(`<code>${GUDRUN.national_id}</code>`);
    expect(html).not.toContain(THORDUR.name);

    const whoami = (await (await second.fetch('/api/whoami', { headers: SAME_ORIGIN_FETCH })).json()) as Whoami;
    expect(whoami).toMatchObject({ bearer: true, sub: GUDRUN.sub, national_id: GUDRUN.national_id, name: GUDRUN.name });
    const { payload } = await jwtVerify(whoami.identityHeaders['x-kenni-assertion']!, await edgeKeys(second), {
      issuer: EDGE_ORIGIN,
      audience: DEMO_ORIGIN,
    });
    expect(payload).toMatchObject({ sub: GUDRUN.sub, name: GUDRUN.name });
  });

  it('gives a second login in the same browser a new session id and ends the first session', async () => {
    const edge = createTestEdge();
    const first = await loginAs(edge, THORDUR);

    // The provider remembers the browser (SSO): the second login goes straight back to the callback.
    const { authorizationUrl } = await startLogin(edge, '?return_to=/again');
    const landing = await followAtProvider(authorizationUrl.href, first.providerCookies);
    expect(landing.kind, landing.kind === 'page' ? landing.html : '').toBe('left');
    if (landing.kind !== 'left') return;
    const callback = await edge.fetch(landing.url.href, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status, await bodyOf(callback)).toBe(302);
    expect(callback.headers.get('location')).toBe('/again');
    const secondId = edge.jar.get(SESSION_COOKIE)!;
    expect(secondId).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(secondId).not.toBe(first.sessionId);
    expect(edge.jar.names()).toEqual([SESSION_COOKIE]);

    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: THORDUR.sub });
    const old = await edge.fetch('/auth/me', withCookie(first.sessionId, SAME_ORIGIN_FETCH));
    expect(old.status).toBe(401);
  });

  it('ends on an error page with access_denied and no session when consent is denied', async () => {
    const edge = createTestEdge();
    const { authorizationUrl } = await startLogin(edge, '?return_to=/account');
    const { callbackUrl } = await signInAtProvider(authorizationUrl.href, {
      login: THORDUR.national_id,
      consent: false,
    });
    const callbackTarget = new URL(callbackUrl);
    expect(callbackTarget.searchParams.get('error')).toBe('access_denied');
    expect(callbackTarget.searchParams.has('code')).toBe(false);

    const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status).toBe(403);
    expect(callback.headers.get('content-type')).toMatch(/^text\/html/);
    expect(callback.headers.get('location')).toBeNull();
    const html = await callback.text();
    expect(html).toContain('<code>access_denied</code>');
    expect(html).toContain('href="/auth/login"');
    expect(setCookieFor(callback, SESSION_COOKIE)).toBeUndefined();
    // The spent login cookie is cleared, so nothing piles up.
    expect(edge.jar.names()).toEqual([]);

    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(401);
    const page = await edge.fetch('/account', { headers: NAVIGATION });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/auth/login?return_to=%2Faccount');
  });

  it('passes prompt=login through, so the provider asks again despite its SSO session', async () => {
    const edge = createTestEdge();
    const first = await loginAs(edge, THORDUR);

    const { authorizationUrl } = await startLogin(edge, '?prompt=login&return_to=/account');
    expect(authorizationUrl.searchParams.get('prompt')).toBe('login');
    const landing = await followAtProvider(authorizationUrl.href, first.providerCookies);
    expect(landing.kind).toBe('page');
    if (landing.kind !== 'page') return;
    expect(landing.status).toBe(200);
    expect(landing.html).toContain('Innskráning / Sign in');

    // Signing in on that request completes the login.
    const { callbackUrl } = await signInAtProvider(authorizationUrl.href, { login: GUDRUN.national_id });
    const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status, await bodyOf(callback)).toBe(302);
    expect(callback.headers.get('location')).toBe('/account');
    expect(edge.jar.get(SESSION_COOKIE)).not.toBe(first.sessionId);
    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(await me.json()).toMatchObject({ sub: GUDRUN.sub, claims: { name: GUDRUN.name } });
  });

  it('signs in end to end as a public client (PKCE only, no secret)', async () => {
    const edge = createTestEdge({ KENNI_CLIENT_ID: '@dev-team.is/spa', KENNI_CLIENT_SECRET: undefined });
    expect(edge.env.KENNI_CLIENT_SECRET).toBeUndefined();

    const { authorizationUrl } = await startLogin(edge, '?return_to=/account');
    expect(authorizationUrl.searchParams.get('client_id')).toBe('@dev-team.is/spa');
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    const { callbackUrl, providerCookies } = await signInAtProvider(authorizationUrl.href, {
      login: THORDUR.national_id,
    });
    const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status, await bodyOf(callback)).toBe(302);
    expect(callback.headers.get('location')).toBe('/account');
    const sessionId = edge.jar.get(SESSION_COOKIE)!;

    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(200);
    const meText = await me.text();
    expect(JSON.parse(meText)).toMatchObject({
      sub: THORDUR.sub,
      claims: { name: THORDUR.name, national_id: THORDUR.national_id },
    });
    expectNoToken(meText, sessionId);

    const whoami = (await (await edge.fetch('/api/whoami', { headers: SAME_ORIGIN_FETCH })).json()) as Whoami;
    expect(whoami).toMatchObject({ bearer: true, sub: THORDUR.sub, name: THORDUR.name });

    const logout = await edge.fetch('/auth/logout', { headers: NAVIGATION });
    expect(logout.status).toBe(302);
    const endSession = new URL(logout.headers.get('location')!);
    expect(endSession.searchParams.get('client_id')).toBe('@dev-team.is/spa');
    expect(endSession.searchParams.get('id_token_hint')).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    expect(await endSessionAtProvider(endSession.href, providerCookies)).toBe(`${EDGE_ORIGIN}/`);
    expect((await edge.fetch('/auth/me', withCookie(sessionId, SAME_ORIGIN_FETCH))).status).toBe(401);
  });
});
