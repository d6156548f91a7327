/**
 * `GET`/`POST /auth/logout` (issue #2): the session ends here (KV record and
 * cookie) and at the provider (RP-initiated logout), and another site cannot
 * log a user out.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { NAVIGATION, SAME_ORIGIN_POST_HEADERS } from '../support/presets.ts';
import type { Reply, ScriptedProvider } from '../support/scripted-provider.ts';
import {
  createLoginProvider,
  expectSessionCookieCleared,
  fileSigningKey,
  logInAt,
  SESSION_COOKIE,
  type ScriptedLogin,
} from '../support/scripted-login.ts';

const bindings = env as unknown as Env;

afterEach(() => {
  vi.useRealTimers();
});

/** A provider tenant (discovery, with `discovery` merged in) signing with this file's key. */
async function createProvider(discovery: Record<string, unknown> = {}): Promise<ScriptedProvider> {
  return (await createLoginProvider({ key: await fileSigningKey(), discovery })).provider;
}

/** A full login of `edge`'s browser: no Fetch Metadata, a 300 s access token and refresh token `refresh-1`. */
async function logIn(edge: TestEdge, provider: ScriptedProvider): Promise<ScriptedLogin> {
  return logInAt(edge, provider, await fileSigningKey());
}

function meWith(edge: TestEdge, sessionId: string): Promise<Response> {
  return edge.fetch('/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${sessionId}` }, jar: false });
}

const SAME_ORIGIN_GET: RequestInit = { headers: NAVIGATION };
const SAME_ORIGIN_POST: RequestInit = {
  method: 'POST',
  headers: { ...SAME_ORIGIN_POST_HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
  body: '',
};

describe.each([
  ['GET', SAME_ORIGIN_GET],
  ['POST', SAME_ORIGIN_POST],
])('%s /auth/logout', (method, init) => {
  it('deletes the KV record, clears the cookie and redirects to end_session_endpoint with id_token_hint, post_logout_redirect_uri and client_id', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, idToken, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', init);

    expect(response.status).toBe(302);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(provider.endpoints.end_session_endpoint);
    expect([...location.searchParams.keys()].sort()).toEqual([
      'client_id',
      'id_token_hint',
      'post_logout_redirect_uri',
    ]);
    expect(location.searchParams.get('id_token_hint')).toBe(idToken);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe('https://edge.test/');
    expect(location.searchParams.get('client_id')).toBe('@dev-team.is/web');
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();

    const me = await meWith(edge, sessionId);
    expect(me.status).toBe(401);
    expect(await me.json()).toMatchObject({ code: 'session_required' });
    // The provider is not called by the edge itself: the browser goes there.
    expect(await provider.requests({ path: '/oidc/session/end' })).toEqual([]);
  });

  it('sends KENNI_POST_LOGOUT_REDIRECT_URI as post_logout_redirect_uri when it is set', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({
      KENNI_ISSUER: provider.issuer,
      KENNI_POST_LOGOUT_REDIRECT_URI: 'https://app.example.is/signed-out',
    });
    await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', init);

    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe('https://app.example.is/signed-out');
    expect(location.searchParams.get('client_id')).toBe('@dev-team.is/web');
  });

  it('redirects to / when the provider has no end_session_endpoint, still ending the session', async () => {
    const provider = await createProvider({ end_session_endpoint: undefined });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', init);

    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/');
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect((await meWith(edge, sessionId)).status).toBe(401);
  });

  it('without a session still redirects (without id_token_hint) and clears the cookie', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    for (const cookie of [undefined, `${SESSION_COOKIE}=${'A'.repeat(43)}`, `${SESSION_COOKIE}=garbage`]) {
      const headers = new Headers(init.headers);
      if (cookie) headers.set('cookie', cookie);
      const response = await edge.fetch('/auth/logout', { ...init, headers });

      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(provider.endpoints.end_session_endpoint);
      expect(location.searchParams.has('id_token_hint')).toBe(false);
      expect(location.searchParams.get('client_id')).toBe('@dev-team.is/web');
      expect(location.searchParams.get('post_logout_redirect_uri')).toBe('https://edge.test/');
      expectSessionCookieCleared(response);
    }
  });

  it('ends only its own session: another browser stays signed in', async () => {
    const provider = await createProvider();
    const alice = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const bob = createTestEdge({ KENNI_ISSUER: provider.issuer });
    await logIn(alice, provider);
    const bobSession = await logIn(bob, provider);

    expect((await alice.fetch('/auth/logout', init)).status).toBe(302);

    expect((await meWith(bob, bobSession.sessionId)).status).toBe(200);
    expect(await bindings.SESSIONS.get(bobSession.kvKey)).not.toBeNull();
  });
});

describe('/auth/logout from another site', () => {
  it.each([
    [
      'GET with Sec-Fetch-Site: cross-site',
      { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', accept: 'text/html' } },
    ],
    [
      'POST with Sec-Fetch-Site: cross-site',
      {
        method: 'POST',
        headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      },
    ],
    [
      'POST with the Origin of another site',
      {
        method: 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      },
    ],
    [
      'POST with a null Origin',
      { method: 'POST', headers: { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }, body: '' },
    ],
    ['GET with the Origin of another site', { headers: { origin: 'https://evil.example' } }],
    [
      'GET with Sec-Fetch-Site: same-site (a sibling subdomain)',
      { headers: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' } },
    ],
    ['GET without Fetch Metadata and with a foreign Referer', { headers: { referer: 'https://evil.example/page' } }],
    ['GET without Fetch Metadata, Origin or Referer (cannot tell where it came from)', { headers: {} }],
  ] as Array<[string, RequestInit]>)('does not log out (%s): 403 and the session still works', async (_label, init) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', init);

    expect(response.status).toBe(403);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('cross_site_request');
    // The page offers a same-origin POST form instead of acting on the request.
    expect(html).toMatch(/<form method="post" action="\/auth\/logout">/);
    expect(await bindings.SESSIONS.get(kvKey)).not.toBeNull();
    expect(edge.jar.get(SESSION_COOKIE)).toBe(sessionId);
    const me = await edge.fetch('/auth/me');
    expect(me.status).toBe(200);
  });
});

describe('/auth/logout from a browser without Fetch Metadata', () => {
  it('logs out a GET whose Referer is our own origin', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', { headers: { referer: 'https://edge.test/account' } });

    expect(response.status).toBe(302);
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
  });

  // The Referer must name exactly our origin (scheme, host and port); a look-alike is another site.
  it.each([
    ['a host that merely starts with ours', 'https://edge.test.evil.example/x'],
    ['our host on another port', 'https://edge.test:8443/account'],
    ['our host as userinfo in front of another host', 'https://edge.test@evil.example/x'],
    ['our host and port as userinfo in front of another host', 'https://edge.test:443@evil.example/x'],
    ['our host over plain http', 'http://edge.test/account'],
    ['our origin only in the path of another site', 'https://evil.example/https://edge.test/account'],
    ['our origin only in the query of another site', 'https://evil.example/?r=https://edge.test/'],
    ['a value that is not a URL', 'edge.test/account'],
    ['the opaque origin null', 'null'],
  ])(
    'does not log out a GET whose Referer is %s (%s): 403 confirmation page and the session survives',
    async (_label, referer) => {
      const provider = await createProvider();
      const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
      const { sessionId, kvKey } = await logIn(edge, provider);

      const response = await edge.fetch('/auth/logout', { headers: { referer } });

      expect(response.status).toBe(403);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.text()).toMatch(/<form method="post" action="\/auth\/logout">/);
      expect(await bindings.SESSIONS.get(kvKey)).not.toBeNull();
      const me = await meWith(edge, sessionId);
      expect(me.status).toBe(200);
      expect(me.headers.getSetCookie()).toEqual([]);
    },
  );

  it.each([
    ['the site root', 'https://edge.test/'],
    ['a page with a query', 'https://edge.test/account?tab=1#top'],
    ['the explicit default port', 'https://edge.test:443/account'],
    ['the host in capitals', 'https://EDGE.TEST/account'],
  ])('logs out a GET whose Referer is our own origin written as %s (%s)', async (_label, referer) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', { headers: { referer } });

    expect(response.status).toBe(302);
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect((await meWith(edge, sessionId)).status).toBe(401);
  });
});

describe('POST /auth/logout from a browser without Fetch Metadata', () => {
  const post = (origin: string): RequestInit => ({
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });

  // The Origin must be exactly ours, as the Referer of a GET must.
  it.each([
    ['a host that merely starts with ours', 'https://edge.test.evil.example'],
    ['our host on another port', 'https://edge.test:8443'],
    ['our host over plain http', 'http://edge.test'],
  ])('does not log out a POST whose Origin is %s (%s): 403 and the session survives', async (_label, origin) => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', post(origin));

    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await bindings.SESSIONS.get(kvKey)).not.toBeNull();
    expect((await meWith(edge, sessionId)).status).toBe(200);
  });

  it('logs out a POST whose Origin is exactly ours', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { sessionId, kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', post('https://edge.test'));

    expect(response.status).toBe(302);
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect((await meWith(edge, sessionId)).status).toBe(401);
  });
});

describe('a session cookie that names no session', () => {
  it('is cleared by the 401 from /auth/me', async () => {
    const edge = createTestEdge();
    const response = await edge.fetch('/auth/me', {
      headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` },
      jar: false,
    });
    expect(response.status).toBe(401);
    expectSessionCookieCleared(response);
  });

  it('is cleared by the login redirect of a protected page', async () => {
    const edge = createTestEdge();
    const response = await edge.fetch('/account', {
      headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${'B'.repeat(43)}` },
      jar: false,
    });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/auth/login?return_to=%2Faccount');
    expectSessionCookieCleared(response);
  });

  it('is not touched when no session cookie was sent', async () => {
    const edge = createTestEdge();
    const response = await edge.fetch('/auth/me', { jar: false });
    expect(response.status).toBe(401);
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

describe('/auth/logout after a long pause', () => {
  it('ends a session whose idle clock was due, without writing the record back', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(start);
    const { sessionId, kvKey } = await logIn(edge, provider);

    vi.setSystemTime(start + 2 * 3_600_000);
    const response = await edge.fetch('/auth/logout', SAME_ORIGIN_GET);

    expect(response.status).toBe(302);
    expectSessionCookieCleared(response);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect((await meWith(edge, sessionId)).status).toBe(401);
    vi.setSystemTime(start + 2 * 3_600_000 + 31_000);
    expect((await meWith(edge, sessionId)).status).toBe(401);
  });
});

describe('/auth/logout revokes the refresh token at the provider (RFC 7009)', () => {
  const REVOCATION_PATH = '/oidc/token/revocation';

  async function createRevokingProvider(reply: Reply): Promise<ScriptedProvider> {
    const provider = await createProvider();
    await provider.serveDiscovery({ revocation_endpoint: provider.url(REVOCATION_PATH) });
    await provider.route('POST', REVOCATION_PATH, reply);
    return provider;
  }

  it('posts the refresh token with token_type_hint and the client authentication of the token endpoint', async () => {
    const provider = await createRevokingProvider({ status: 200, body: '' });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { kvKey } = await logIn(edge, provider);

    const response = await edge.fetch('/auth/logout', SAME_ORIGIN_POST);

    expect(response.status).toBe(302);
    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    const revocations = await provider.requests({ method: 'POST', path: REVOCATION_PATH });
    expect(revocations.map((request) => request.form)).toEqual([
      { token: 'refresh-1', token_type_hint: 'refresh_token' },
    ]);
    const [tokenRequest] = await provider.requests({ method: 'POST', path: '/oidc/token' });
    expect(revocations[0]!.headers.authorization).toMatch(/^Basic /);
    expect(revocations[0]!.headers.authorization).toBe(tokenRequest!.headers.authorization);
  });

  it.each([
    ['answers 503', { status: 503, body: 'down' }, {}],
    ['does not answer within PROVIDER_TIMEOUT', { hang: true }, { PROVIDER_TIMEOUT: '1' }],
    ['refuses the request', { status: 401, json: { error: 'invalid_client' } }, {}],
  ] as Array<[string, Reply, Record<string, string>]>)(
    'still logs out when the revocation endpoint %s',
    async (_label, reply, settings) => {
      const provider = await createRevokingProvider(reply);
      const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, ...settings });
      const { sessionId, kvKey } = await logIn(edge, provider);

      const response = await edge.fetch('/auth/logout', SAME_ORIGIN_POST);

      expect(response.status).toBe(302);
      expect(new URL(response.headers.get('location')!).pathname).toBe(
        new URL(provider.endpoints.end_session_endpoint).pathname,
      );
      expectSessionCookieCleared(response);
      expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
      expect((await meWith(edge, sessionId)).status).toBe(401);
      expect(await provider.requests({ method: 'POST', path: REVOCATION_PATH })).toHaveLength(1);
    },
  );

  it('sends nothing when the provider advertises no revocation_endpoint', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    await logIn(edge, provider);

    expect((await edge.fetch('/auth/logout', SAME_ORIGIN_POST)).status).toBe(302);

    expect((await provider.requests({ method: 'POST' })).map((request) => request.path)).toEqual(['/oidc/token']);
  });
});
