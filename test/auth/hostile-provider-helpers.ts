/**
 * Shared steps for the hostile-provider tests: a scripted provider with one
 * signing key, a worker under test pointed at it, a started login, and the
 * assertion that a login was refused without leaving a session behind.
 */
import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';
import { tokenResponse, type ScriptedProvider } from '../support/scripted-provider.ts';
import { createLoginProvider, SESSION_COOKIE } from '../support/scripted-login.ts';
import { makeIdTokenClaims, type Claims, type TestKey } from '../support/token-factory.ts';

export { SESSION_COOKIE };

/** The client id test/wrangler.test.toml configures (Kenni-like: `@` and `/`). */
export const CLIENT_ID = '@dev-team.is/web';
/** Prefix of the login-transaction cookies. */
export const LOGIN_COOKIE_PREFIX = '__Host-kenni-login-';

/** A scripted provider with one RS256 key in its JWKS, and an edge using it as issuer. */
export interface HostileSetup {
  provider: ScriptedProvider;
  key: TestKey;
  edge: TestEdge;
  /** The `sub` of this test's user: unique, so KV can be searched for this test's sessions only. */
  subject: string;
}

/** Starts a provider tenant (discovery + JWKS) and a worker whose `KENNI_ISSUER` is that tenant. */
export async function setUpHostileProvider(
  options: { discovery?: Record<string, unknown>; edge?: Record<string, unknown>; serveDiscovery?: boolean } = {},
): Promise<HostileSetup> {
  const { provider, key } = await createLoginProvider({
    discovery: options.discovery,
    serveDiscovery: options.serveDiscovery,
  });
  const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, ...options.edge });
  return { provider, key, edge, subject: `hostile-${crypto.randomUUID()}` };
}

/** What `/auth/login` handed to the provider and to the browser. */
export interface StartedLogin {
  authorizationUrl: URL;
  state: string;
  nonce: string;
  codeChallenge: string;
  redirectUri: string;
  /** The login-transaction cookie as a `Cookie` pair, `name=value`. */
  transactionCookie: string;
  transactionCookieName: string;
}

/** `GET /auth/login` (by default `?return_to=/dashboard`) and what it redirected with. */
export async function startLogin(edge: TestEdge, path = '/auth/login?return_to=/dashboard'): Promise<StartedLogin> {
  const response = await edge.fetch(path);
  expect(response.status).toBe(302);
  const authorizationUrl = new URL(response.headers.get('location')!);
  const transactionCookie = response.headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith(LOGIN_COOKIE_PREFIX))
    ?.split(';')[0];
  // The cookie is named after the first 22 characters of the login's state.
  expect(transactionCookie).toMatch(/^__Host-kenni-login-[\w-]{22}=[^;\s]+$/);
  const read = (name: string, pattern: RegExp) => {
    const value = authorizationUrl.searchParams.get(name);
    expect(value, name).toMatch(pattern);
    return value!;
  };
  return {
    authorizationUrl,
    state: read('state', /^[\w-]{22,}$/),
    nonce: read('nonce', /^[\w-]{22,}$/),
    codeChallenge: read('code_challenge', /^[\w-]{43}$/),
    redirectUri: read('redirect_uri', /^https:\/\/edge\.test\/auth\/callback$/),
    transactionCookie: transactionCookie!,
    transactionCookieName: transactionCookie!.slice(0, transactionCookie!.indexOf('=')),
  };
}

/**
 * The callback URL the provider would send the browser to: `code`, `state`
 * and `iss` by default; `params` add or replace (`undefined` removes).
 */
export function callbackPath(
  setup: HostileSetup,
  login: StartedLogin,
  params: Record<string, string | undefined> = {},
): string {
  const merged: Record<string, string | undefined> = {
    code: 'authorization-code-1',
    state: login.state,
    iss: setup.provider.issuer,
    ...params,
  };
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(merged)) if (value !== undefined) query.set(name, value);
  return `/auth/callback?${query}`;
}

/** ID token claims for this login (issuer, client, nonce), with `overrides` (`undefined` removes a claim). */
export function idTokenClaims(setup: HostileSetup, login: StartedLogin, overrides: Claims = {}): Claims {
  return makeIdTokenClaims({
    issuer: setup.provider.issuer,
    clientId: CLIENT_ID,
    nonce: login.nonce,
    sub: setup.subject,
    ...overrides,
  });
}

/** Scripts the token endpoint to answer with `idToken`, then follows the callback. */
export async function callbackWithIdToken(
  setup: HostileSetup,
  login: StartedLogin,
  idToken: string,
): Promise<Response> {
  await setup.provider.serveToken(
    tokenResponse({ id_token: idToken, expires_in: 300, refresh_token: 'refresh-token-1' }),
  );
  return setup.edge.fetch(callbackPath(setup, login));
}

/**
 * The `session:` keys in the real KV whose record belongs to `subject`. KV is
 * shared with other tests, so sessions are told apart by their unique subject.
 */
export async function sessionKeysFor(subject: string): Promise<string[]> {
  const found: string[] = [];
  let cursor: string | undefined;
  do {
    const listed = await env.SESSIONS.list({ prefix: 'session:', ...(cursor ? { cursor } : {}) });
    for (const { name } of listed.keys) {
      const record = await env.SESSIONS.get<{ sub?: unknown }>(name, 'json');
      if (record?.sub === subject) found.push(name);
    }
    cursor = listed.list_complete ? undefined : listed.cursor;
  } while (cursor);
  return found;
}

/** The auth log lines written since {@link watchLogs}. */
export interface LogWatch {
  /** Everything written to any console method, one string per call. */
  raw(): string[];
  /** The JSON auth events. */
  events(): Array<Record<string, unknown>>;
}

/** The running test's console lines from now on (test/support/log-capture.ts), so tests can assert on log lines. */
export function watchLogs(): LogWatch {
  const capture = captureLogs();
  return {
    raw: () => capture.lines().map(({ text }) => text),
    events: () => capture.events().filter((event) => 'event' in event),
  };
}

/** What a refused login must look like. */
export interface RefusedLogin {
  status: number;
  code: string;
  /** The login whose callback failed: its transaction cookie must be cleared. */
  login?: StartedLogin;
  /** The log reason when it is finer than the code (default: the code). */
  reason?: string;
  /** The log watch: a `login_failed` line with this reason must have been written. */
  logs?: LogWatch;
  /** The browser that sent the request, when not `setup.edge`. */
  browser?: TestEdge;
  /** Sessions of this test's subject that legitimately exist already (e.g. before a replay). Default 0. */
  existingSessions?: number;
}

/**
 * Asserts an error page with `status` and `code`, no session cookie, no new
 * `session:` key, `/auth/me` 401 afterwards, the transaction cookie (if any)
 * cleared, and a `login_failed` log line. Returns the page's HTML.
 */
export async function expectLoginRefused(
  setup: HostileSetup,
  response: Response,
  expected: RefusedLogin,
): Promise<string> {
  const edge = expected.browser ?? setup.edge;
  const body = await response.text();
  expect(response.status, body).toBe(expected.status);
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('location')).toBeNull();
  expect(body).toContain(`Error code: <code>${expected.code}</code>`);
  expect(body).toContain(`(HTTP ${expected.status})`);

  const setCookies = response.headers.getSetCookie();
  expect(setCookies.filter((cookie) => cookie.toLowerCase().startsWith(SESSION_COOKIE.toLowerCase()))).toEqual([]);
  if (expected.login) {
    // The spent transaction is cleared, so cookies never pile up and a reload cannot loop.
    const cleared = setCookies.filter((cookie) => cookie.startsWith(`${expected.login!.transactionCookieName}=;`));
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatch(/; Max-Age=0(;|$)/);
    expect(edge.jar.get(expected.login.transactionCookieName)).toBeUndefined();
  }
  expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();

  if (expected.logs) {
    const failed = expected.logs.events().filter((event) => event.event === 'login_failed');
    expect(failed).toEqual([
      expect.objectContaining({ level: 'warn', reason: expected.reason ?? expected.code, status: expected.status }),
    ]);
  }

  const me = await edge.fetch('/auth/me');
  expect(me.status).toBe(401);
  expect(await me.json()).toMatchObject({ code: 'session_required' });
  expect(await sessionKeysFor(setup.subject)).toHaveLength(expected.existingSessions ?? 0);
  return body;
}

/** Asserts a completed login: 302 to the saved path with a session cookie, and `/auth/me` 200. */
export async function expectLoginSucceeded(setup: HostileSetup, response: Response): Promise<void> {
  const { edge } = setup;
  const body = await response.text();
  expect(response.status, body).toBe(302);
  expect(response.headers.get('location')).toBe('/dashboard');
  expect(response.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))).toBe(true);
  const me = await edge.fetch('/auth/me');
  expect(me.status).toBe(200);
  expect(await me.json()).toMatchObject({ sub: setup.subject });
  expect(await sessionKeysFor(setup.subject)).toHaveLength(1);
}

/** `base64url(sha256(text))`, the S256 code challenge of a verifier. */
export async function s256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
