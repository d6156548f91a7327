/**
 * Starting a login and completing its callback (issue #2): the authorization
 * request, the sealed single-use transaction cookie, concurrent logins, and the
 * error page (never a redirect) for every failed callback.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { tokenError, type ScriptedProvider } from '../support/scripted-provider.ts';
import { sha256Hex } from '../support/hash.ts';
import { createLoginProvider, fileSigningKey, serveLoginTokens, SESSION_COOKIE } from '../support/scripted-login.ts';

const LOGIN_COOKIE_PREFIX = '__Host-kenni-login-';
const DEFAULT_SCOPE = 'openid profile national_id offline_access';
const bindings = env as unknown as Env;

afterEach(() => {
  vi.useRealTimers();
});

/** A provider tenant (discovery, JWKS) signing with this file's key. */
async function createProvider(): Promise<ScriptedProvider> {
  return (await createLoginProvider({ key: await fileSigningKey() })).provider;
}

/** Wraps the real KV binding and records every call on a session key. */
function countingKv(kv: KVNamespace): { kv: KVNamespace; sessionPuts: () => string[] } {
  const puts: string[] = [];
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'put' && String(args[0]).startsWith('session:')) puts.push(String(args[0]));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv: proxy, sessionPuts: () => [...puts] };
}

interface StartedLogin {
  response: Response;
  authorize: URL;
  state: string;
  nonce: string;
  /** The transaction cookie this login set: `name=value`. */
  cookieName: string;
  cookieValue: string;
  setCookie: string;
}

async function startLogin(edge: TestEdge, query = ''): Promise<StartedLogin> {
  const response = await edge.fetch(`/auth/login${query}`);
  expect(response.status).toBe(302);
  const authorize = new URL(response.headers.get('location')!);
  const setCookie = response.headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith(LOGIN_COOKIE_PREFIX) && !/Max-Age=0\b/.test(cookie));
  expect(setCookie).toMatch(/^__Host-kenni-login-[\w-]{22}=[^;]+;/);
  const pair = setCookie!.split(';')[0]!;
  const separator = pair.indexOf('=');
  return {
    response,
    authorize,
    state: authorize.searchParams.get('state')!,
    nonce: authorize.searchParams.get('nonce')!,
    cookieName: pair.slice(0, separator),
    cookieValue: pair.slice(separator + 1),
    setCookie: setCookie!,
  };
}

/** Scripts the token endpoint to answer the login with `nonce` (ID token claims overridden by `claims`); returns the ID token. */
async function serveTokenFor(
  provider: ScriptedProvider,
  edge: TestEdge,
  nonce: string,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const { idToken } = await serveLoginTokens(provider, await fileSigningKey(), {
    nonce,
    clientId: String(edge.env.KENNI_CLIENT_ID),
    claims,
  });
  return idToken;
}

function callbackPath(provider: ScriptedProvider, state: string | undefined, extra = ''): string {
  const query = new URLSearchParams({ code: `code-${crypto.randomUUID()}`, iss: provider.issuer });
  if (state !== undefined) query.set('state', state);
  return `/auth/callback?${query}${extra}`;
}

function sessionCookieOf(response: Response): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
}

async function sha256Base64Url(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function base64UrlToLatin1(value: string): string {
  return atob(value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4));
}

/** Asserts the answer is the sign-in error page: 4xx HTML, the code, a "try again" link, no redirect, no session. */
async function expectErrorPage(response: Response, status: number, code: string): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(sessionCookieOf(response)).toBeUndefined();
  const html = await response.text();
  expect(html).toContain(`<code>${code}</code>`);
  expect(html).toMatch(/<a [^>]*href="\/auth\/login"[^>]*>[^<]*Try again/i);
  expect(html).not.toMatch(/http-equiv=["']?refresh/i);
  expect(html).not.toContain('<script');
  return html;
}

function clearsCookie(response: Response, name: string): boolean {
  return response.headers.getSetCookie().some((cookie) => cookie.startsWith(`${name}=;`) && /Max-Age=0\b/.test(cookie));
}

describe('GET /auth/login', () => {
  it('redirects to the authorization endpoint with code flow, PKCE S256, state and nonce', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { response, authorize, state, nonce } = await startLogin(edge);

    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(`${authorize.origin}${authorize.pathname}`).toBe(provider.endpoints.authorization_endpoint);
    expect([...new Set(authorize.searchParams.keys())].sort()).toEqual(
      [
        'client_id',
        'code_challenge',
        'code_challenge_method',
        'nonce',
        'redirect_uri',
        'response_type',
        'scope',
        'state',
      ].sort(),
    );
    for (const name of authorize.searchParams.keys()) expect(authorize.searchParams.getAll(name)).toHaveLength(1);
    expect(authorize.searchParams.get('response_type')).toBe('code');
    expect(authorize.searchParams.get('client_id')).toBe('@dev-team.is/web');
    expect(authorize.searchParams.get('redirect_uri')).toBe('https://edge.test/auth/callback');
    expect(authorize.searchParams.get('scope')).toBe(`${DEFAULT_SCOPE} @dev-team.is/api.read`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(new Set([state, nonce, authorize.searchParams.get('code_challenge')]).size).toBe(3);
  });

  it('gives every login its own state, nonce and code_challenge', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const first = await startLogin(edge);
    const second = await startLogin(edge);

    expect(second.state).not.toBe(first.state);
    expect(second.nonce).not.toBe(first.nonce);
    expect(second.authorize.searchParams.get('code_challenge')).not.toBe(
      first.authorize.searchParams.get('code_challenge'),
    );
  });

  it('sends the PKCE verifier whose S256 is the code_challenge, with the same redirect_uri', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { authorize, state, nonce } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);

    const callback = await edge.fetch(callbackPath(provider, state));

    expect(callback.status).toBe(302);
    const [tokenRequest] = await provider.requests({ method: 'POST', path: '/oidc/token' });
    const verifier = tokenRequest!.form!.code_verifier!;
    expect(verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(await sha256Base64Url(verifier)).toBe(authorize.searchParams.get('code_challenge'));
    expect(tokenRequest!.form!.redirect_uri).toBe(authorize.searchParams.get('redirect_uri'));
    expect(tokenRequest!.form!.grant_type).toBe('authorization_code');
  });

  it('uses KENNI_REDIRECT_URI as redirect_uri when it is set', async () => {
    const provider = await createProvider();
    const redirectUri = 'https://app.example.is/auth/callback';
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, KENNI_REDIRECT_URI: redirectUri });
    const { authorize, state, nonce } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);

    expect(authorize.searchParams.get('redirect_uri')).toBe(redirectUri);
    expect((await edge.fetch(callbackPath(provider, state))).status).toBe(302);
    const [tokenRequest] = await provider.requests({ method: 'POST', path: '/oidc/token' });
    expect(tokenRequest!.form!.redirect_uri).toBe(redirectUri);
  });

  it('requests KENNI_SCOPE plus every KENNI_API_SCOPE, and the default scope without API scopes', async () => {
    const provider = await createProvider();

    const custom = await startLogin(
      createTestEdge({
        KENNI_ISSUER: provider.issuer,
        KENNI_SCOPE: 'openid national_id',
        KENNI_API_SCOPE: '@team.is/orders.read @team.is/orders.write',
      }),
    );
    const plain = await startLogin(createTestEdge({ KENNI_ISSUER: provider.issuer, KENNI_API_SCOPE: undefined }));

    expect(custom.authorize.searchParams.get('scope')).toBe(
      'openid national_id @team.is/orders.read @team.is/orders.write',
    );
    expect(plain.authorize.searchParams.get('scope')).toBe(DEFAULT_SCOPE);
  });

  it.each([
    ['login', 'login'],
    ['consent', 'consent'],
    ['none', 'none'],
    ['delegation', 'delegation'],
    ['login consent', 'login consent'],
    ['login junk', 'login'],
    ['junk', null],
    ['<script>', null],
    ['', null],
    ['login login consent login', 'login consent'],
    ['delegation_admin', 'delegation_admin'],
    ['login delegation', 'login delegation'],
    // Kenni has no select_account: dropped, as every value Kenni does not know.
    ['select_account', null],
    ['select_account delegation', 'delegation'],
    ['Delegation', null],
    ['delegation\tlogin', null],
  ])('passes prompt=%j through as %j (only values Kenni knows; others are dropped)', async (prompt, expected) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { authorize } = await startLogin(edge, `?prompt=${encodeURIComponent(prompt)}`);

    expect(authorize.searchParams.get('prompt')).toBe(expected);
  });

  it('passes each prompt value once: a 120 KB prompt does not become a 120 KB authorization URL', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { response, authorize } = await startLogin(
      edge,
      `?prompt=${encodeURIComponent('login consent '.repeat(10_000))}`,
    );

    expect(authorize.searchParams.get('prompt')).toBe('login consent');
    expect(response.headers.get('location')!.length).toBeLessThan(1024);
  });

  it.each([
    ['is', 'is'],
    ['en', 'en'],
    ['is en', 'is en'],
    ['en-GB is', 'en-GB is'],
    ['is"><script>', null],
    ['is;en', null],
    ['x'.repeat(65), null],
    ['', null],
  ])('passes ui_locales=%j through as %j (junk is dropped)', async (uiLocales, expected) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { authorize } = await startLogin(edge, `?ui_locales=${encodeURIComponent(uiLocales)}`);

    expect(authorize.searchParams.get('ui_locales')).toBe(expected);
  });

  it('falls back to KENNI_UI_LOCALES when the request names no valid ui_locales', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, KENNI_UI_LOCALES: 'is' });

    expect((await startLogin(edge)).authorize.searchParams.get('ui_locales')).toBe('is');
    expect((await startLogin(edge, '?ui_locales=%3Cjunk%3E')).authorize.searchParams.get('ui_locales')).toBe('is');
    expect((await startLogin(edge, '?ui_locales=en')).authorize.searchParams.get('ui_locales')).toBe('en');
  });
});

describe('the login transaction cookie', () => {
  it('is __Host-kenni-login-…, HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age at most 600, with no Domain', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { setCookie, cookieName, response } = await startLogin(edge);

    expect(response.headers.getSetCookie().filter((cookie) => cookie.startsWith(LOGIN_COOKIE_PREFIX))).toHaveLength(1);
    expect(sessionCookieOf(response)).toBeUndefined();
    expect(cookieName.startsWith(LOGIN_COOKIE_PREFIX)).toBe(true);
    expect(cookieName.length).toBeGreaterThan(LOGIN_COOKIE_PREFIX.length);
    const attributes = setCookie
      .split(';')
      .slice(1)
      .map((part) => part.trim());
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('Secure');
    expect(attributes).toContain('SameSite=Lax');
    expect(attributes).toContain('Path=/');
    expect(setCookie.toLowerCase()).not.toContain('domain=');
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(600);
  });

  it('is sealed: its value holds neither the state, the nonce nor any readable JSON', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { cookieValue, state, nonce, authorize } = await startLogin(edge, '?return_to=/secret-return-path');

    expect(cookieValue).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cookieValue).not.toContain(state);
    expect(cookieValue).not.toContain(nonce);
    expect(cookieValue).not.toContain(authorize.searchParams.get('code_challenge'));
    expect(cookieValue).not.toContain('eyJ'); // base64 of '{"'
    const decoded = base64UrlToLatin1(cookieValue);
    for (const readable of [state, nonce, '"state"', '"nonce"', 'code_verifier', 'secret-return-path', 'edge.test']) {
      expect(decoded).not.toContain(readable);
    }
  });

  it('never piles up: after 10 logins in one browser at most 3 login cookies remain', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const logins: StartedLogin[] = [];
    for (let index = 0; index < 10; index++) {
      logins.push(await startLogin(edge));
      expect(edge.jar.names().filter((name) => name.startsWith(LOGIN_COOKIE_PREFIX)).length).toBeLessThanOrEqual(3);
    }

    expect(edge.jar.names().filter((name) => name.startsWith(LOGIN_COOKIE_PREFIX))).toHaveLength(3);
    // The newest login always survives.
    expect(edge.jar.get(logins[9]!.cookieName)).toBe(logins[9]!.cookieValue);
  });

  it('drops the oldest pending logins first, so the two most recent ones still complete', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    // All in the same second, as tabs opened together are.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Math.floor(Date.now() / 1000) * 1000 + 100);

    const logins: StartedLogin[] = [];
    for (let index = 0; index < 10; index++) logins.push(await startLogin(edge));

    const pending = edge.jar
      .names()
      .filter((name) => name.startsWith(LOGIN_COOKIE_PREFIX))
      .sort();
    expect(pending).toEqual([logins[7]!.cookieName, logins[8]!.cookieName, logins[9]!.cookieName].sort());

    await serveTokenFor(provider, edge, logins[8]!.nonce);
    expect((await edge.fetch(callbackPath(provider, logins[8]!.state))).status).toBe(302);
    await serveTokenFor(provider, edge, logins[9]!.nonce);
    expect((await edge.fetch(callbackPath(provider, logins[9]!.state))).status).toBe(302);
    await expectErrorPage(await edge.fetch(callbackPath(provider, logins[0]!.state)), 400, 'login_state_missing');
  });
});

describe('GET /auth/callback', () => {
  it.each([
    ['first tab first', [0, 1]],
    ['second tab first', [1, 0]],
  ])('completes two logins started at once in one browser (%s)', async (_label, order) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const tabs = [await startLogin(edge, '?return_to=/tab-one'), await startLogin(edge, '?return_to=/tab-two')];

    const sessions: string[] = [];
    for (const index of order) {
      const tab = tabs[index]!;
      await serveTokenFor(provider, edge, tab.nonce);
      const callback = await edge.fetch(callbackPath(provider, tab.state));
      expect(callback.status).toBe(302);
      expect(callback.headers.get('location')).toBe(index === 0 ? '/tab-one' : '/tab-two');
      expect(clearsCookie(callback, tab.cookieName)).toBe(true);
      const cookie = sessionCookieOf(callback);
      expect(cookie).toMatch(/^__Host-kenni-session=[\w-]{43};/);
      sessions.push(cookie!.split(';')[0]!);
      const me = await edge.fetch('/auth/me');
      expect(me.status).toBe(200);
    }

    expect(new Set(sessions).size).toBe(2);
    expect(edge.jar.names().filter((name) => name.startsWith(LOGIN_COOKIE_PREFIX))).toEqual([]);
  });

  it('refuses a tampered transaction cookie with a 400 page, clears it, and creates no session', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const { state, nonce, cookieName, cookieValue } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);
    const at = Math.floor(cookieValue.length / 2);
    const tampered = `${cookieValue.slice(0, at)}${cookieValue[at] === 'A' ? 'B' : 'A'}${cookieValue.slice(at + 1)}`;

    const callback = await edge.fetch(callbackPath(provider, state), {
      headers: { cookie: `${cookieName}=${tampered}` },
    });

    await expectErrorPage(callback, 400, 'login_state_invalid');
    expect(clearsCookie(callback, cookieName)).toBe(true);
    expect(counter.sessionPuts()).toEqual([]);
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
  });

  it('refuses a transaction cookie sealed for another login (swapped between names)', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const first = await startLogin(edge);
    const second = await startLogin(edge);

    const callback = await edge.fetch(callbackPath(provider, first.state), {
      headers: { cookie: `${first.cookieName}=${second.cookieValue}` },
    });

    await expectErrorPage(callback, 400, 'login_state_invalid');
    expect(clearsCookie(callback, first.cookieName)).toBe(true);
  });

  it('refuses a state that matches no transaction cookie with 400, leaving other pending logins intact', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const pending = await startLogin(edge);
    const unknownState = `${'Q'.repeat(22)}${pending.state.slice(22)}`;

    const callback = await edge.fetch(callbackPath(provider, unknownState));

    await expectErrorPage(callback, 400, 'login_state_missing');
    expect(clearsCookie(callback, pending.cookieName)).toBe(false);
    await serveTokenFor(provider, edge, pending.nonce);
    expect((await edge.fetch(callbackPath(provider, pending.state))).status).toBe(302);
  });

  it('refuses a state whose cookie name matches but whose full value differs', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const pending = await startLogin(edge);
    const otherState = `${pending.state.slice(0, 22)}${'Z'.repeat(pending.state.length - 22)}`;
    expect(otherState).not.toBe(pending.state);

    const callback = await edge.fetch(callbackPath(provider, otherState));

    await expectErrorPage(callback, 400, 'login_state_invalid');
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
  });

  it('refuses a callback without a state with 400', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    await startLogin(edge);

    for (const path of [
      callbackPath(provider, undefined),
      `${callbackPath(provider, undefined)}&state=`,
      callbackPath(provider, 'not a state!'),
    ]) {
      await expectErrorPage(await edge.fetch(path), 400, 'login_state_invalid');
    }
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
  });

  it('refuses a transaction older than 10 minutes with 400 login_expired, and accepts one just younger', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(start);
    const young = await startLogin(edge);
    const old = await startLogin(edge);

    vi.setSystemTime(start + 599_000);
    await serveTokenFor(provider, edge, young.nonce);
    expect((await edge.fetch(callbackPath(provider, young.state))).status).toBe(302);

    vi.setSystemTime(start + 601_000);
    await serveTokenFor(provider, edge, old.nonce);
    const callback = await edge.fetch(callbackPath(provider, old.state), {
      headers: { cookie: `${old.cookieName}=${old.cookieValue}` },
    });

    await expectErrorPage(callback, 400, 'login_expired');
    expect(clearsCookie(callback, old.cookieName)).toBe(true);
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toHaveLength(1);
  });

  it('refuses a replayed callback, even with the original transaction cookie re-sent, and creates no new session', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const { state, nonce, cookieName, cookieValue } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);
    const path = callbackPath(provider, state);
    const completed = await edge.fetch(path);
    expect(completed.status).toBe(302);
    expect(clearsCookie(completed, cookieName)).toBe(true);
    expect(counter.sessionPuts()).toHaveLength(1);
    const sessionId = edge.jar.get(SESSION_COOKIE)!;

    const replay = await edge.fetch(path, { headers: { cookie: `${cookieName}=${cookieValue}` }, jar: false });
    await expectErrorPage(replay, 400, 'login_replayed');
    expect(clearsCookie(replay, cookieName)).toBe(true);

    const replayInBrowser = await edge.fetch(path, {
      headers: { cookie: `${SESSION_COOKIE}=${sessionId}; ${cookieName}=${cookieValue}` },
      jar: false,
    });
    await expectErrorPage(replayInBrowser, 400, 'login_replayed');

    expect(counter.sessionPuts()).toHaveLength(1);
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toHaveLength(1);
    // The replay did not end the session that the real callback created.
    expect((await edge.fetch('/auth/me')).status).toBe(200);
  });

  it('refuses a callback whose state another isolate already consumed (its login-state: marker is in KV) with login_replayed and no session', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const { state, nonce, cookieName } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);
    // Another isolate completed this callback: only its KV marker tells this isolate so.
    await bindings.SESSIONS.put(`login-state:${await sha256Hex(state)}`, '1', { expirationTtl: 660 });

    const callback = await edge.fetch(callbackPath(provider, state));

    await expectErrorPage(callback, 400, 'login_replayed');
    expect(clearsCookie(callback, cookieName)).toBe(true);
    expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();
    expect(counter.sessionPuts()).toEqual([]);
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
  });

  it('refuses a replayed callback without its cookie (already cleared) with 400', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { state, nonce } = await startLogin(edge);
    await serveTokenFor(provider, edge, nonce);
    const path = callbackPath(provider, state);
    expect((await edge.fetch(path)).status).toBe(302);

    await expectErrorPage(await edge.fetch(path), 400, 'login_state_missing');
  });

  it('answers a provider error (access_denied) with a page, no session, and clears the transaction cookie', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { state, cookieName } = await startLogin(edge);

    const callback = await edge.fetch(
      `/auth/callback?${new URLSearchParams({ error: 'access_denied', state, iss: provider.issuer })}`,
    );

    await expectErrorPage(callback, 403, 'access_denied');
    expect(clearsCookie(callback, cookieName)).toBe(true);
    expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
  });

  it('answers invalid_grant from the token endpoint with a 400 page and clears the transaction cookie', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const { state, cookieName } = await startLogin(edge);
    await provider.serveToken(tokenError('invalid_grant'));

    const callback = await edge.fetch(callbackPath(provider, state));

    await expectErrorPage(callback, 400, 'invalid_grant');
    expect(clearsCookie(callback, cookieName)).toBe(true);
    expect(counter.sessionPuts()).toEqual([]);
  });

  it('rejects an ID token whose nonce differs with a 400 page and clears the transaction cookie', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const { state, cookieName } = await startLogin(edge);
    await serveTokenFor(provider, edge, 'some-other-nonce');

    const callback = await edge.fetch(callbackPath(provider, state));

    await expectErrorPage(callback, 400, 'id_token_invalid');
    expect(clearsCookie(callback, cookieName)).toBe(true);
    expect(counter.sessionPuts()).toEqual([]);
  });

  it('never sends a failed login back into a redirect loop: the try-again link starts a fresh login', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const failed = await edge.fetch(callbackPath(provider, 'A'.repeat(43)));
    await expectErrorPage(failed, 400, 'login_state_missing');

    const retry = await startLogin(edge);
    expect(retry.authorize.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  });
});
