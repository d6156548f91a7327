/**
 * Edge cookies are recognised by their exact names only (issue #8, item 2).
 * A sibling subdomain can set `<U+2000>__Host-kenni-session`: the browser
 * applies no `__Host-` rules to that name (it does not start with `__Host-`)
 * and sends it as UTF-8 bytes (Chromium 156: `E2 80 80 5F 5F 48 6F …`);
 * workerd decodes header bytes as UTF-8, so the worker sees `\u2000__Host-…`.
 * A JS `trim()` turns that into the edge's own name: session fixation, and
 * login CSRF through a planted login-transaction cookie. RFC 6265 trims only
 * SP and HTAB around a cookie pair, and so must the edge.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-5.2
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { parseCookieHeader, readCookie } from '../../src/session/cookies.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { NAVIGATION } from '../support/presets.ts';
import {
  createLoginProvider,
  fileSigningKey,
  logInAt,
  serveLoginTokens,
  SESSION_COOKIE,
} from '../support/scripted-login.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';

const LOGIN_COOKIE_PREFIX = '__Host-kenni-login-';
const bindings = env as unknown as Env;

/**
 * Characters a JS `trim()` removes but RFC 6265 does not, as workerd surfaces
 * them (decoded UTF-8), plus the same bytes read as Latin-1 characters (the
 * form a byte-string header API would show) and the C1/format characters.
 */
const FOREIGN_BYTES: Array<[string, string]> = [
  ['U+2000 EN QUAD', '\u2000'],
  ['U+00A0 NBSP', '\u00a0'],
  ['U+FEFF BOM', '\ufeff'],
  ['U+3000 IDEOGRAPHIC SPACE', '\u3000'],
  ['U+0085 NEL', '\u0085'],
  ['U+2028 LINE SEPARATOR', '\u2028'],
  ['U+000B VT', '\u000b'],
  ['U+000C FF', '\u000c'],
  ['E2 80 80 read as Latin-1', '\u00e2\u0080\u0080'],
  ['C2 A0 read as Latin-1', '\u00c2\u00a0'],
];

/** A provider tenant (discovery, JWKS) signing with this file's key. */
async function createProvider(): Promise<ScriptedProvider> {
  return (await createLoginProvider({ key: await fileSigningKey() })).provider;
}

/** The transaction cookie (`name`, `value`) and the authorization request of a login started on `edge`. */
async function startLogin(edge: TestEdge): Promise<{ name: string; value: string; state: string; nonce: string }> {
  const response = await edge.fetch('/auth/login', { jar: false });
  expect(response.status).toBe(302);
  const authorize = new URL(response.headers.get('location')!);
  const setCookie = response.headers.getSetCookie().find((cookie) => cookie.startsWith(LOGIN_COOKIE_PREFIX))!;
  const pair = setCookie.split(';')[0]!;
  return {
    name: pair.slice(0, pair.indexOf('=')),
    value: pair.slice(pair.indexOf('=') + 1),
    state: authorize.searchParams.get('state')!,
    nonce: authorize.searchParams.get('nonce')!,
  };
}

describe('parseCookieHeader', () => {
  it.each(FOREIGN_BYTES)('keeps %s around a name: not the edge cookie', (_label, foreign) => {
    for (const header of [
      `${foreign}${SESSION_COOKIE}=s`,
      `${SESSION_COOKIE}${foreign}=s`,
      `a=1; ${foreign}${SESSION_COOKIE}=s`,
    ]) {
      expect(readCookie(header, SESSION_COOKIE), JSON.stringify(header)).toBeUndefined();
      expect(parseCookieHeader(header).some(([name]) => name === SESSION_COOKIE)).toBe(false);
    }
  });

  it('trims only SP and HTAB around names and values (RFC 6265 OWS)', () => {
    expect(parseCookieHeader(`a=1;${SESSION_COOKIE}=s`)).toEqual([
      ['a', '1'],
      [SESSION_COOKIE, 's'],
    ]);
    expect(parseCookieHeader(` \t${SESSION_COOKIE} \t= \ts\t ; b = 2 `)).toEqual([
      [SESSION_COOKIE, 's'],
      ['b', '2'],
    ]);
    expect(parseCookieHeader(`x=\u2000y\u00a0`)).toEqual([['x', '\u2000y\u00a0']]);
    expect(readCookie(`a=1;  ${SESSION_COOKIE} = s ;b=2`, SESSION_COOKIE)).toBe('s');
  });
});

describe('a session cookie planted under a look-alike name (session fixation)', () => {
  it.each(FOREIGN_BYTES)(
    'is not the session with %s before or after the name: 401 / 302 to login',
    async (_label, foreign) => {
      const provider = await createProvider();
      // The attacker's own, valid session: what a fixation would put the victim into.
      const attacker = createTestEdge({ KENNI_ISSUER: provider.issuer });
      const { sessionId } = await logInAt(attacker, provider, await fileSigningKey());
      const victim = createTestEdge({ KENNI_ISSUER: provider.issuer });

      for (const cookie of [
        `${foreign}${SESSION_COOKIE}=${sessionId}`,
        `${SESSION_COOKIE}${foreign}=${sessionId}`,
        `theme=dark; ${foreign}${SESSION_COOKIE}=${sessionId}`,
      ]) {
        const me = await victim.fetch('/auth/me', { headers: { cookie } });
        expect(me.status, JSON.stringify(cookie)).toBe(401);
      }
      const page = await victim.fetch('/dashboard', {
        headers: { ...NAVIGATION, cookie: `${foreign}${SESSION_COOKIE}=${sessionId}` },
      });
      expect(page.status).toBe(302);
      expect(new URL(page.headers.get('location')!, 'https://edge.test').pathname).toBe('/auth/login');
    },
  );

  it('still finds the real session cookie among others, with spaces around the pairs', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, sub } = await logInAt(edge, provider, await fileSigningKey());

    for (const cookie of [
      `${SESSION_COOKIE}=${sessionId}`,
      `theme=dark; ${SESSION_COOKIE}=${sessionId}; lang=is`,
      `theme=dark;\t ${SESSION_COOKIE} = ${sessionId} ;lang=is`,
    ]) {
      const me = await edge.fetch('/auth/me', { headers: { cookie } });
      expect(me.status, JSON.stringify(cookie)).toBe(200);
      expect(((await me.json()) as { sub: string }).sub).toBe(sub);
    }
  });
});

describe('a login-transaction cookie planted under a look-alike name (login CSRF)', () => {
  it.each(FOREIGN_BYTES)(
    "does not complete the attacker's callback in the victim's browser with %s before the name",
    async (_label, foreign) => {
      const provider = await createProvider();
      const attacker = createTestEdge({ KENNI_ISSUER: provider.issuer });
      // The attacker starts a login, keeps its transaction cookie and gets a code for their own account.
      const login = await startLogin(attacker);
      await serveLoginTokens(provider, await fileSigningKey(), {
        nonce: login.nonce,
        clientId: String(attacker.env.KENNI_CLIENT_ID),
      });
      const puts: string[] = [];
      const kv = new Proxy(bindings.SESSIONS, {
        get(target, property) {
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (property === 'put') puts.push(String(args[0]));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const victim = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: kv });

      const query = new URLSearchParams({ code: 'attacker-code', state: login.state, iss: provider.issuer });
      const callback = await victim.fetch(`/auth/callback?${query}`, {
        headers: { cookie: `${foreign}${login.name}=${login.value}` },
      });

      expect(callback.status).toBe(400);
      expect(await callback.text()).toContain('<code>login_state_missing</code>');
      expect(callback.headers.getSetCookie().filter((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))).toEqual([]);
      expect(puts.filter((key) => key.startsWith('session:'))).toEqual([]);
      expect(await provider.requests({ method: 'POST', path: '/oidc/token' })).toEqual([]);
    },
  );

  it('completes the callback when the transaction cookie has its exact name', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const login = await startLogin(edge);
    await serveLoginTokens(provider, await fileSigningKey(), {
      nonce: login.nonce,
      clientId: String(edge.env.KENNI_CLIENT_ID),
    });

    const query = new URLSearchParams({ code: 'code-1', state: login.state, iss: provider.issuer });
    const callback = await edge.fetch(`/auth/callback?${query}`, {
      headers: { cookie: `theme=dark;  ${login.name}=${login.value} ; lang=is` },
    });

    expect(callback.status).toBe(302);
    expect(callback.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))).toBe(true);
  });

  it('does not count look-alike names as pending logins (they are neither kept nor cleared)', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const planted = [1, 2, 3].map((n) => `\u2000${LOGIN_COOKIE_PREFIX}planted${n}=x`).join('; ');

    const response = await edge.fetch('/auth/login', { headers: { cookie: planted } });

    expect(response.status).toBe(302);
    const cleared = response.headers.getSetCookie().filter((cookie) => /Max-Age=0\b/.test(cookie));
    expect(cleared).toEqual([]);
  });
});
