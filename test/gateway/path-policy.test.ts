/**
 * The gateway's three path classes (issue #4): `PUBLIC_PATHS` are forwarded
 * without a session and without identity, `API_PATHS` need a bearer JWT or a
 * session and are never redirected, every other path needs a session: a page
 * navigation without one is redirected to login, anything else gets 401 JSON.
 * Path tricks (dot segments, encoded slashes, double encoding, case) never
 * make a protected path public.
 */
import { describe, expect, it } from 'vitest';
import { EDGE_ORIGIN } from '../support/edge.ts';
import { logInAt } from '../support/scripted-login.ts';
import {
  accessToken,
  API_BEARER_CHALLENGE,
  API_SCOPE,
  CROSS_SITE_NAVIGATION,
  expectErrorPage,
  expectJsonError,
  expectLoginRedirect,
  expectSessionRequired,
  identityHeadersOf,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
} from './helpers.ts';

const RESOURCE_METADATA = 'resource_metadata="https://edge.test/.well-known/oauth-protected-resource"';
const OK = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'from the origin' } as const;

describe('PUBLIC_PATHS', () => {
  it('forwards a public path without a session and without identity headers', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', OK);

    const response = await setup.edge.fetch('/public/x?lang=is', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('from the origin');
    const [request, ...rest] = await setup.originRequests();
    expect(rest).toEqual([]);
    expect(request).toMatchObject({ method: 'GET', path: '/origin/public/x', search: '?lang=is' });
    expect(identityHeadersOf(request!)).toEqual({});
    expect(request!.headers.authorization).toBeUndefined();
  });

  it('forwards a public path without identity even when a valid session cookie comes along', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    await setup.routeOrigin('GET', '/public/x', OK);

    const response = await setup.edge.fetch('/public/x', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(identityHeadersOf(request!)).toEqual({});
    expect(request!.headers.authorization).toBeUndefined();
    expect(request!.headers.cookie).toBeUndefined();
  });

  it('treats the prefix itself, with and without its slash, and exact public files as public', async () => {
    const setup = await setUpGateway();
    for (const path of ['/public/', '/public', '/favicon.ico']) await setup.routeOrigin('GET', path, OK);

    for (const path of ['/public/', '/public', '/favicon.ico']) {
      const response = await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH });
      expect(response.status, path).toBe(200);
    }
    expect((await setup.originRequests()).map((request) => request.path)).toEqual([
      '/origin/public/',
      '/origin/public',
      '/origin/favicon.ico',
    ]);
  });

  it('does not treat a path that merely starts with the same letters as public (/publicity, /public-x)', async () => {
    const setup = await setUpGateway();

    for (const path of ['/publicity', '/public-x/y', '/publi']) {
      expectLoginRedirect(await setup.edge.fetch(path, { headers: NAVIGATION }), path, path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('matches prefixes on path segments: /health covers /health/x but not /healthz, /favicon.ico not /favicon.ico.bak', async () => {
    const setup = await setUpGateway({ edge: { PUBLIC_PATHS: '/health,/favicon.ico' } });
    await setup.routeOrigin('GET', '/health/live', OK);
    expect((await setup.edge.fetch('/health/live')).status).toBe(200);
    for (const path of ['/healthz', '/health-admin', '/favicon.ico.bak']) {
      expectLoginRedirect(await setup.edge.fetch(path, { headers: NAVIGATION }), path, path);
    }
    expect((await setup.originRequests()).map((request) => request.path)).toEqual(['/origin/health/live']);
  });

  it('forwards only the listed prefixes when PUBLIC_PATHS is set, and nothing is public when it is empty', async () => {
    const custom = await setUpGateway({ edge: { PUBLIC_PATHS: '/assets/, /health' } });
    await custom.routeOrigin('GET', '/assets/app.css', OK);
    await custom.routeOrigin('GET', '/health', OK);
    expect((await custom.edge.fetch('/assets/app.css')).status).toBe(200);
    expect((await custom.edge.fetch('/health')).status).toBe(200);
    await expectSessionRequired(await custom.edge.fetch('/public/x'), '/public/x');

    const none = await setUpGateway({ edge: { PUBLIC_PATHS: undefined } });
    await expectSessionRequired(await none.edge.fetch('/public/x'), 'no PUBLIC_PATHS');
    expect(await none.originRequests()).toEqual([]);
  });
});

describe('API_PATHS', () => {
  it('forwards a request with a valid bearer JWT and no session', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/api/orders', { json: { orders: [] } });
    const token = await accessToken(setup, { sub: 'api-caller-1' });

    const response = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ orders: [] });
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toBe('api-caller-1');
    expect(request!.headers['x-kenni-auth']).toBe('bearer');
  });

  it('verifies the bearer against KENNI_API_AUDIENCE: a token for another audience is invalid_token, and one for the configured audience passes', async () => {
    const setup = await setUpGateway({ edge: { KENNI_API_AUDIENCE: 'https://orders.example.is' } });
    await setup.routeOrigin('GET', '/api/orders', { json: {} });

    const defaultAudience = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await accessToken(setup)}` },
    });
    const body = await expectJsonError(defaultAudience, 401, 'bearer_invalid');
    expect(body.error).toBe('invalid_token');
    expect(defaultAudience.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="kenni-edge", error="invalid_token", error_description="[^"]*audience[^"]*", resource_metadata="https:\/\/edge\.test\/\.well-known\/oauth-protected-resource"$/,
    );
    expect(await setup.originRequests()).toEqual([]);

    const configured = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await accessToken(setup, { audience: 'https://orders.example.is' })}` },
    });
    expect(configured.status).toBe(200);
    expect(await setup.originRequests()).toHaveLength(1);
  });

  it('requires every KENNI_API_SCOPE on the bearer: 403 insufficient_scope naming them, not forwarded', async () => {
    const setup = await setUpGateway({ edge: { KENNI_API_SCOPE: `${API_SCOPE} @dev-team.is/api.write` } });
    await setup.routeOrigin('POST', '/api/orders', { json: {} });

    const readOnly = await setup.edge.fetch('/api/orders', {
      method: 'POST',
      headers: { authorization: `Bearer ${await accessToken(setup, { scope: API_SCOPE })}` },
    });

    const body = await expectJsonError(readOnly, 403, 'insufficient_scope');
    expect(body).toMatchObject({ error: 'insufficient_scope', scope: `${API_SCOPE} @dev-team.is/api.write` });
    expect(readOnly.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="insufficient_scope", error_description="${String(body.error_description)}", scope="${API_SCOPE} @dev-team.is/api.write", ${RESOURCE_METADATA}`,
    );
    expect(await setup.originRequests()).toEqual([]);

    const both = await setup.edge.fetch('/api/orders', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await accessToken(setup, { scope: `${API_SCOPE} @dev-team.is/api.write` })}`,
      },
    });
    expect(both.status).toBe(200);
  });

  it('refuses an expired bearer (invalid_token) and a malformed one (invalid_request), never reaching the origin', async () => {
    const setup = await setUpGateway();
    const now = Math.floor(Date.now() / 1000);

    const expired = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await accessToken(setup, { iat: now - 7200, exp: now - 3600 })}` },
    });
    expect((await expectJsonError(expired, 401, 'bearer_invalid')).error).toBe('invalid_token');

    const malformed = await setup.edge.fetch('/api/orders', { headers: { authorization: 'Bearer a b c' } });
    expect((await expectJsonError(malformed, 400, 'bearer_malformed')).error).toBe('invalid_request');
    expect(malformed.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_request"/);

    expect(await setup.originRequests()).toEqual([]);
  });

  it('judges a presented bearer on its own: an invalid one is refused even with a valid session cookie', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    const forged = `${(await accessToken(setup)).slice(0, -4)}AAAA`;

    const response = await setup.edge.fetch('/api/orders', {
      headers: { ...SAME_ORIGIN_FETCH, authorization: `Bearer ${forged}` },
    });

    expect((await expectJsonError(response, 401, 'bearer_invalid')).error).toBe('invalid_token');
    expect(await setup.originRequests()).toEqual([]);
  });

  it('forwards a request with a session and no bearer', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/api/orders', { json: {} });

    const response = await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toBe(sub);
    expect(request!.headers['x-kenni-auth']).toBe('session');
  });

  it('answers 401 JSON with the Bearer challenge, never a redirect, without bearer or session, whatever the request looks like', async () => {
    const setup = await setUpGateway();
    const kinds: Array<[string, RequestInit]> = [
      ['page navigation', { headers: NAVIGATION }],
      ['navigation without fetch metadata', { headers: { accept: 'text/html' } }],
      ['fetch', { headers: SAME_ORIGIN_FETCH }],
      ['no headers', {}],
      ['POST form navigation', { method: 'POST', headers: NAVIGATION, body: 'a=1' }],
      ['another scheme than Bearer', { headers: { ...NAVIGATION, authorization: 'Basic dXNlcjpwYXNz' } }],
      ['a stale session cookie', { headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } }],
    ];

    for (const path of ['/api/orders?x=1', '/api', '/API/orders', '/Api/Orders']) {
      for (const [label, init] of kinds)
        await expectSessionRequired(
          await setup.edge.fetch(path, { ...init, jar: false }),
          `${path} ${label}`,
          API_BEARER_CHALLENGE,
        );
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('uses API_PATHS when set: the listed prefixes get 401, /api/ becomes a page', async () => {
    const setup = await setUpGateway({ edge: { API_PATHS: '/graphql,/v1/' } });

    const graphql = await setup.edge.fetch('/graphql', { headers: NAVIGATION });
    await expectSessionRequired(graphql, '/graphql', API_BEARER_CHALLENGE);
    const v1 = await setup.edge.fetch('/v1/things', { headers: NAVIGATION });
    await expectSessionRequired(v1, '/v1/things', API_BEARER_CHALLENGE);
    expectLoginRedirect(await setup.edge.fetch('/api/orders', { headers: NAVIGATION }), '/api/orders');
  });
});

describe('pages', () => {
  it('forward with a session, with the identity of the session', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/account', OK);

    const response = await setup.edge.fetch('/account', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('from the origin');
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toBe(sub);
  });

  it('refuse a bearer token alone: pages need a session', async () => {
    const setup = await setUpGateway();
    const token = await accessToken(setup);

    await expectSessionRequired(
      await setup.edge.fetch('/account', { headers: { ...SAME_ORIGIN_FETCH, authorization: `Bearer ${token}` } }),
    );
    expectLoginRedirect(
      await setup.edge.fetch('/account', { headers: { ...NAVIGATION, authorization: `Bearer ${token}` } }),
      '/account',
    );
    expect(await setup.originRequests()).toEqual([]);
  });
});

describe('no session: 302 to login for a page navigation, 401 JSON for anything else', () => {
  const PATH = '/account/settings?tab=2&q=a%20b&next=%2Fx';

  const navigations: Array<[string, RequestInit]> = [
    [
      'Sec-Fetch-Mode navigate + Sec-Fetch-Dest document',
      { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': 'none' } },
    ],
    ['a navigation from another site', { headers: CROSS_SITE_NAVIGATION }],
    [
      'navigate into an iframe',
      { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe', 'sec-fetch-site': 'same-origin' } },
    ],
    [
      'no fetch metadata, Accept text/html (an older browser)',
      { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } },
    ],
    ['HEAD navigation', { method: 'HEAD', headers: NAVIGATION }],
  ];

  const programmatic: Array<[string, RequestInit]> = [
    [
      'Sec-Fetch-Mode cors',
      {
        headers: {
          'sec-fetch-mode': 'cors',
          'sec-fetch-dest': 'empty',
          'sec-fetch-site': 'same-origin',
          accept: 'text/html',
        },
      },
    ],
    [
      'Sec-Fetch-Mode no-cors (an image)',
      {
        headers: {
          'sec-fetch-mode': 'no-cors',
          'sec-fetch-dest': 'image',
          'sec-fetch-site': 'same-origin',
          accept: 'image/avif,image/webp,*/*',
        },
      },
    ],
    [
      'Sec-Fetch-Mode same-origin',
      {
        headers: {
          'sec-fetch-mode': 'same-origin',
          'sec-fetch-dest': 'empty',
          'sec-fetch-site': 'same-origin',
          accept: 'text/html',
        },
      },
    ],
    [
      'Sec-Fetch-Mode navigate with Sec-Fetch-Dest script',
      { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'script', accept: 'text/html' } },
    ],
    ['no fetch metadata, Accept application/json', { headers: { accept: 'application/json' } }],
    ['no fetch metadata, Accept */*', { headers: { accept: '*/*' } }],
    ['no fetch metadata, no Accept', {}],
    [
      'X-Requested-With with Accept text/html',
      { headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } },
    ],
    [
      'POST as a page navigation (a form)',
      { method: 'POST', headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' },
    ],
    ['PUT', { method: 'PUT', headers: NAVIGATION, body: 'x' }],
    ['PATCH', { method: 'PATCH', headers: { accept: 'text/html' }, body: 'x' }],
    ['DELETE', { method: 'DELETE', headers: NAVIGATION }],
    ['OPTIONS without a CORS preflight', { method: 'OPTIONS', headers: NAVIGATION }],
  ];

  it.each(navigations)(
    'redirects a page navigation (%s) to /auth/login with the path and query as return_to',
    async (_label, init) => {
      const setup = await setUpGateway();

      const response = await setup.edge.fetch(PATH, init);

      expectLoginRedirect(response, '/account/settings?tab=2&q=a%20b&next=%2Fx');
      expect(response.headers.get('location')).toBe(
        '/auth/login?return_to=%2Faccount%2Fsettings%3Ftab%3D2%26q%3Da%2520b%26next%3D%252Fx',
      );
      expect(response.headers.get('www-authenticate')).toBeNull();
      expect(await setup.originRequests()).toEqual([]);
    },
  );

  it.each(programmatic)('answers 401 JSON with the Bearer challenge to %s', async (_label, init) => {
    const setup = await setUpGateway();

    const response = await setup.edge.fetch(PATH, init);

    await expectSessionRequired(response);
    expect(await setup.originRequests()).toEqual([]);
  });

  it('brings the browser back to the same path and query after signing in', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/account/settings', OK);

    const redirect = await setup.edge.fetch(PATH, { headers: NAVIGATION });
    expect(redirect.status).toBe(302);
    const { callback } = await logInAt(setup.edge, setup.provider, setup.key, {
      loginPath: redirect.headers.get('location')!,
      loginHeaders: NAVIGATION,
      callbackHeaders: NAVIGATION,
      claims: { sub: 'round-trip' },
      token: { expires_in: 3600, refresh_token: undefined },
    });

    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(PATH);
    const page = await setup.edge.fetch(callback.headers.get('location')!, { headers: NAVIGATION });
    expect(page.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request).toMatchObject({ path: '/origin/account/settings', search: '?tab=2&q=a%20b&next=%2Fx' });
  });
});

describe('path tricks cannot make a protected path public', () => {
  /**
   * Some tricks are already resolved by the URL parser before the worker sees
   * them (`/public/../admin` arrives as `/admin`), or every reading of what is
   * left is the same protected path: the session treatment.
   */
  const protectedTricks = [
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public\\..\\admin',
    `${EDGE_ORIGIN}//public/../admin`,
    '/PUBLIC/x',
    '/Public/x',
    '/public%2f../admin',
    '/public/x%00/../../admin',
    '/./public/../admin',
  ];

  /**
   * The rest arrive encoded, and a server that decodes once more (or reads
   * `\` as `/`) reads another path than one that does not: the readings fall
   * under different classes, so the edge refuses them (path-readings.test.ts
   * has the attacks and the corpus). These asserted 302/401 before the
   * readings rule; now they are 400 `path_ambiguous`, still never forwarded.
   */
  const ambiguousTricks = [
    '/public/..%2fadmin',
    '/public/..%2Fadmin',
    '/public/%2E%2E%2Fadmin',
    '/public/%2e%2e%2f%2e%2e%2fadmin',
    '/public/..%5cadmin',
    '/public%2fx',
    '/public/%252e%252e/admin',
    '/public/%252e%252e%252fadmin',
    '/public/%25252e%25252e%25252fadmin',
    '/public/%2e%2e%2fapi/orders',
    '/public/%E0%A4%A',
  ];

  it.each(protectedTricks)(
    '%s: a navigation is redirected to login, a fetch gets 401, the origin gets nothing',
    async (trick) => {
      const setup = await setUpGateway();
      const seen = new URL(trick, EDGE_ORIGIN);

      const navigation = await setup.edge.fetch(trick, { headers: NAVIGATION });
      const fetched = await setup.edge.fetch(trick, { headers: SAME_ORIGIN_FETCH });

      expectLoginRedirect(navigation, `${seen.pathname}${seen.search}`);
      await expectSessionRequired(fetched);
      expect(await setup.originRequests()).toEqual([]);
    },
  );

  it.each(ambiguousTricks)(
    '%s: refused with 400 path_ambiguous for a navigation and a fetch, the origin gets nothing',
    async (trick) => {
      const setup = await setUpGateway();

      const navigation = await setup.edge.fetch(trick, { headers: NAVIGATION });
      const fetched = await setup.edge.fetch(trick, { headers: SAME_ORIGIN_FETCH });

      expect(navigation.headers.get('location')).toBeNull();
      if (trick.includes('api')) await expectJsonError(navigation, 400, 'path_ambiguous');
      else await expectErrorPage(navigation, 400, 'path_ambiguous');
      await expectJsonError(fetched, 400, 'path_ambiguous');
      expect(await setup.originRequests()).toEqual([]);
    },
  );

  it('forwards tricks every reading agrees on as protected requests, with a session: with the identity, to the path as parsed', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);

    for (const trick of ['/public%2f../admin', '/Public/..%2fx', '/PUBLIC/x']) {
      const response = await setup.edge.fetch(trick, { headers: NAVIGATION });
      expect(response.status, trick).toBe(404); // the scripted origin has no such route: it answered
    }
    const requests = await setup.originRequests();
    expect(requests.map((request) => request.path)).toEqual([
      '/origin/public%2f../admin',
      '/origin/Public/..%2fx',
      '/origin/PUBLIC/x',
    ]);
    for (const request of requests) expect(request.headers['x-kenni-sub'], request.path).toBe(sub);
  });

  it('treats /public//..//admin as the URL parser resolves it, /public//admin: inside the public prefix, and never forwards /admin', async () => {
    const setup = await setUpGateway();
    expect(new URL('/public//..//admin', EDGE_ORIGIN).pathname).toBe('/public//admin');

    const response = await setup.edge.fetch('/public//..//admin', { headers: NAVIGATION });

    expect(response.status).toBe(404); // forwarded; the scripted origin has no route
    const requests = await setup.originRequests();
    expect(requests.map((request) => request.path)).toEqual(['/origin/public//admin']);
    expect(identityHeadersOf(requests[0]!)).toEqual({});
  });

  it('still forwards legitimate public paths, including encoded characters inside the prefix', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', OK);
    await setup.routeOrigin('GET', '/public/', OK);
    await setup.routeOrigin('GET', '/public/a%20b.txt', OK);

    for (const path of ['/public/x', '/public/', '/public/a%20b.txt', '/public/sub/../x']) {
      const response = await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH });
      expect(response.status, path).toBe(200);
    }
    expect((await setup.originRequests()).map((request) => request.path)).toEqual([
      '/origin/public/x',
      '/origin/public/',
      '/origin/public/a%20b.txt',
      '/origin/public/x',
    ]);
  });

  it('never lets the answer to an API trick become a redirect or a page: 400 JSON', async () => {
    const setup = await setUpGateway();
    const response = await setup.edge.fetch('/public/..%2fapi/orders', { headers: NAVIGATION });
    expect(response.headers.get('location')).toBeNull();
    await expectJsonError(response, 400, 'path_ambiguous');
  });
});
