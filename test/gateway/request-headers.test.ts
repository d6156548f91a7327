/**
 * Request headers the origin could read differently (issue #8, items 8 and
 * 10): headers that make origins route on another URL, method or client
 * address are dropped in every spelling; the client's own `Authorization`
 * reaches the origin only on API and public routes; an edge cookie after a
 * `,` (two folded `Cookie` fields) never reaches the origin.
 */
import { describe, expect, it } from 'vitest';
import {
  accessToken,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
  LOGIN_COOKIE_PREFIX,
} from './helpers.ts';

/** Every routing, method-override and client-address header, in the spellings origins read. */
const ROUTING_HEADERS: Array<[string, string]> = [
  ['X-Original-URL', '/admin'],
  ['x_original_url', '/admin'],
  ['X-Rewrite-URL', '/admin'],
  ['X_REWRITE_URL', '/admin'],
  ['X-Original-URI', '/admin'],
  ['X-HTTP-Method-Override', 'DELETE'],
  ['x_http_method_override', 'DELETE'],
  ['X-HTTP-Method', 'DELETE'],
  ['X-Method-Override', 'DELETE'],
  ['x-method_override', 'DELETE'],
  ['Forwarded', 'for=10.0.0.1;host=evil.example'],
  ['X-Real-IP', '10.0.0.1'],
  ['x_real_ip', '10.0.0.1'],
  ['True-Client-IP', '10.0.0.1'],
  ['TRUE_CLIENT_IP', '10.0.0.1'],
  ['X-Client-IP', '10.0.0.1'],
  ['X-Cluster-Client-IP', '10.0.0.1'],
  ['Client-IP', '10.0.0.1'],
  ['X-Original-Host', 'evil.example'],
  ['X-Host', 'evil.example'],
  ['X-Forwarded-Server', 'evil.example'],
  ['x_forwarded_ssl', 'on'],
  ['Proxy', 'http://evil.example:8080'],
];

describe('routing, method-override and client-address headers', () => {
  it.each([
    ['a public path', '/public/x', async () => ({})],
    [
      'a page path with a session',
      '/account',
      async (setup: Awaited<ReturnType<typeof setUpGateway>>) => (await signIn(setup), NAVIGATION),
    ],
    [
      'an API path with a bearer token',
      '/api/orders',
      async (setup: Awaited<ReturnType<typeof setUpGateway>>) => ({
        authorization: `Bearer ${await accessToken(setup)}`,
      }),
    ],
  ])('are dropped on %s in every letter case and with _ for -', async (_label, path, authenticate) => {
    const setup = await setUpGateway();
    const auth = await authenticate(setup);
    await setup.routeOrigin('GET', path, { status: 200 });
    const headers = new Headers(auth);
    for (const [name, value] of ROUTING_HEADERS) headers.append(name, value);
    headers.set('x-request-id', 'req-7');

    const response = await setup.edge.fetch(path, { headers });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    const normalized = (name: string) => name.toLowerCase().replace(/_/g, '-');
    const left = Object.keys(request!.headers).filter((name) =>
      ROUTING_HEADERS.some(([sent]) => normalized(sent) === normalized(name)),
    );
    // Only the edge's own X-Forwarded-* remain (and none of them is x-forwarded-server / -ssl).
    expect(left).toEqual([]);
    expect(request!.headers['x-request-id']).toBe('req-7');
    expect(request!.headers['x-forwarded-host']).toBe('edge.test');
  });
});

describe("the client's Authorization", () => {
  it('is dropped on a page path: the session authenticated the request, the header is unverified', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/account', { status: 200 });

    for (const authorization of ['Bearer forged.jwt.value', 'Basic YWRtaW46YWRtaW4=']) {
      const response = await setup.edge.fetch('/account', { headers: { ...NAVIGATION, authorization } });
      expect(response.status).toBe(200);
    }

    const requests = await setup.originRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers['x-kenni-sub']).toBe(sub);
    }
  });

  it("reaches a public path as sent, an API path with a bearer as verified, and is replaced by the session's token on an API path with a session", async () => {
    const setup = await setUpGateway();
    const { accessToken: sessionToken } = await signIn(setup);
    const token = await accessToken(setup, { sub: 'machine-1' });
    await setup.routeOrigin('GET', '/public/x', { status: 200 });
    await setup.routeOrigin('GET', '/api/orders', { status: 200 });

    await setup.edge.fetch('/public/x', { headers: { authorization: 'Basic cGFydG5lcjpzZWNyZXQ=' } });
    await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` }, jar: false });
    await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });

    const [publicRequest, bearerRequest, sessionRequest] = await setup.originRequests();
    expect(publicRequest!.headers.authorization).toBe('Basic cGFydG5lcjpzZWNyZXQ=');
    expect(bearerRequest!.headers.authorization).toBe(`Bearer ${token}`);
    expect(sessionRequest!.headers.authorization).toBe(`Bearer ${sessionToken}`);
  });
});

describe('folded Cookie headers', () => {
  it.each([
    [
      'two Cookie fields folded with ", "',
      (id: string) => [
        ['cookie', 'a=1'],
        ['cookie', `${SESSION_COOKIE}=${id}`],
      ],
      'a=1',
    ],
    ['one field with ", " before the session', (id: string) => [['cookie', `a=1, ${SESSION_COOKIE}=${id}`]], 'a=1'],
    [
      'one field with "," and no space, then "; "',
      (id: string) => [['cookie', `a=1,${SESSION_COOKIE}=${id}; b=2`]],
      'a=1; b=2',
    ],
    [
      'a login cookie after ","',
      (id: string) => [['cookie', `a=1, ${LOGIN_COOKIE_PREFIX}x=sealed, ${SESSION_COOKIE}=${id}`]],
      'a=1',
    ],
    [
      'a session after a space inside one pair (read as two cookies by lenient parsers)',
      (id: string) => [['cookie', `a=1 ${SESSION_COOKIE}=${id}; b=2`]],
      'b=2',
    ],
  ])('never hand the session id to the origin on a public path: %s', async (_label, cookieFields, expected) => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    const response = await setup.edge.fetch('/public/x', {
      headers: new Headers(cookieFields(sessionId) as Array<[string, string]>),
      jar: false,
    });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers.cookie).toBe(expected);
    expect(JSON.stringify(request!.headers)).not.toContain(sessionId);
  });

  it('leave a Cookie header with commas in values untouched, and keep those values whole when an edge cookie is removed', async () => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    await setup.routeOrigin('GET', '/public/x', { status: 200 });
    await setup.routeOrigin('GET', '/public/y', { status: 200 });

    await setup.edge.fetch('/public/x', { headers: { cookie: 'prefs=a,b,c; list="x, y"' }, jar: false });
    await setup.edge.fetch('/public/y', {
      headers: { cookie: `prefs=a,b,c; ${SESSION_COOKIE}=${sessionId}; list="x, y"` },
      jar: false,
    });

    const [untouched, stripped] = await setup.originRequests();
    expect(untouched!.headers.cookie).toBe('prefs=a,b,c; list="x, y"');
    expect(stripped!.headers.cookie).toBe('prefs=a,b,c; list="x, y"');
  });
});
