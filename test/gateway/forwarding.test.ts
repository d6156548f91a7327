/**
 * Forwarding to the origin (issue #4): method, path, query and body arrive as
 * sent; hop-by-hop headers stay behind; `X-Forwarded-*` comes from the edge
 * only; spoofed identity headers and the edge's cookies never reach the
 * origin; the origin's answer comes back unchanged except that it cannot set
 * or clear the edge's cookies; CORS preflights reach the origin without
 * identity.
 */
import { describe, expect, it } from 'vitest';
import {
  accessToken,
  identityHeadersOf,
  LOGIN_COOKIE_PREFIX,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  sha256Hex,
  signIn,
} from './helpers.ts';

describe('the request as the origin receives it', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])(
    'keeps the method, the path (encoded characters as sent), the query and the body of a %s',
    async (method) => {
      const setup = await setUpGateway();
      await signIn(setup);
      const path = '/files/a%20b/%C3%BEj%C3%B3%C3%B0/report.json';
      const search = '?a=1&a=2&b=%C3%BE&c=x%2Fy&empty=&flag';
      await setup.routeOrigin(method, path, { json: { ok: true } });
      const body = method === 'GET' ? null : JSON.stringify({ name: 'Þórður Ævarsson', amount: 12.5 });

      const response = await setup.edge.fetch(`${path}${search}`, {
        method,
        headers: { ...SAME_ORIGIN_FETCH, 'content-type': 'application/json; charset=utf-8' },
        body,
      });

      expect(response.status).toBe(200);
      const [request, ...rest] = await setup.originRequests();
      expect(rest).toEqual([]);
      expect(request).toMatchObject({ method, path: `/origin${path}`, search });
      expect(request!.body).toBe(body ?? '');
      if (body) {
        expect(request!.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(request!.bodySha256).toBe(await sha256Hex(new TextEncoder().encode(body)));
      }
    },
  );

  it('forwards a HEAD as a HEAD and binary bodies byte for byte', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('HEAD', '/public/file', { status: 200, headers: { 'x-size': '3' } });
    await setup.routeOrigin('PUT', '/public/blob', { status: 204 });
    const bytes = Uint8Array.from({ length: 4096 }, (_, index) => (index * 37) & 0xff);

    const head = await setup.edge.fetch('/public/file', { method: 'HEAD' });
    const put = await setup.edge.fetch('/public/blob', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });

    expect(head.status).toBe(200);
    expect(head.headers.get('x-size')).toBe('3');
    expect(put.status).toBe(204);
    const [headRequest, putRequest] = await setup.originRequests();
    expect(headRequest!.method).toBe('HEAD');
    expect(putRequest).toMatchObject({ method: 'PUT', bodyLength: 4096, bodySha256: await sha256Hex(bytes) });
  });

  it('forwards ordinary end-to-end headers as sent', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    const sent = {
      accept: 'application/json',
      'accept-language': 'is, en;q=0.5',
      'user-agent': 'kenni-test/1.0',
      'x-request-id': 'req-42',
      'if-none-match': '"abc"',
      'x-kennitala-hint': 'not an identity header',
    };
    await setup.edge.fetch('/public/x', { headers: sent });

    const [request] = await setup.originRequests();
    expect(request!.headers).toMatchObject(sent);
  });

  it('drops hop-by-hop headers: Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Connection and the headers Connection names', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('POST', '/public/hop', { status: 200 });

    const response = await setup.edge.fetch('/public/hop', {
      method: 'POST',
      headers: {
        connection: 'keep-alive, X-Secret-Hop, x-other-hop',
        'x-secret-hop': 'must not pass',
        'x-other-hop': 'nor this',
        'keep-alive': 'timeout=5, max=1000',
        te: 'trailers',
        trailer: 'x-checksum',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'x-end-to-end': 'passes',
      },
      body: 'hello',
    });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    for (const name of [
      'keep-alive',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
      'proxy-authorization',
      'proxy-connection',
      'x-secret-hop',
      'x-other-hop',
    ]) {
      expect(request!.headers[name], name).toBeUndefined();
    }
    expect(request!.headers.connection ?? '').not.toMatch(/secret|other/i);
    expect(request!.headers['x-end-to-end']).toBe('passes');
    // The body still arrives whole, framed by the edge's own connection.
    expect(request!.body).toBe('hello');
    expect(request!.headers['content-length']).toBe('5');
  });

  it("sets X-Forwarded-For from CF-Connecting-IP, X-Forwarded-Proto and X-Forwarded-Host, replacing the client's X-Forwarded-* and Forwarded", async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', {
      headers: {
        ...NAVIGATION,
        'cf-connecting-ip': '203.0.113.9',
        'x-forwarded-for': '10.0.0.1, 192.0.2.1',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-port': '80',
        'x-forwarded-prefix': '/admin',
        'X-Forwarded-User': 'admin',
        forwarded: 'for=10.0.0.1;host=evil.example;proto=http',
      },
    });

    const [request] = await setup.originRequests();
    expect(request!.headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(request!.headers['x-forwarded-proto']).toBe('https');
    expect(request!.headers['x-forwarded-host']).toBe('edge.test');
    for (const name of ['x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-user', 'forwarded'])
      expect(request!.headers[name], name).toBeUndefined();
    expect(request!.headers.host).toBe(new URL(setup.originUrl).host);
    expect(request!.headers['x-kenni-sub']).toBe(sub);
  });

  it('drops client-sent x_forwarded_* spellings too (CGI/WSGI servers read them as X-Forwarded-*)', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    await setup.edge.fetch('/public/x', {
      headers: {
        'cf-connecting-ip': '203.0.113.9',
        x_forwarded_for: '10.0.0.1',
        X_Forwarded_Host: 'evil.example',
        'x-forwarded_proto': 'http',
        'X_FORWARDED-PREFIX': '/admin',
      },
    });

    const [request] = await setup.originRequests();
    const forwarded = Object.keys(request!.headers).filter((name) => /^x[-_]forwarded[-_]/i.test(name));
    expect(forwarded.sort()).toEqual(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
    expect(request!.headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(request!.headers['x-forwarded-host']).toBe('edge.test');
  });

  it("sends no X-Forwarded-For at all (not the client's) when there is no CF-Connecting-IP", async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    await setup.edge.fetch('/public/x', { headers: { 'x-forwarded-for': '10.0.0.1' } });

    const [request] = await setup.originRequests();
    expect(request!.headers['x-forwarded-for']).toBeUndefined();
    expect(request!.headers['x-forwarded-proto']).toBe('https');
    expect(request!.headers['x-forwarded-host']).toBe('edge.test');
  });

  it("forwards to ORIGIN_URL's base path, whatever Host the client sent", async () => {
    const setup = await setUpGateway({});
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    const response = await setup.edge.fetch('/public/x', { headers: { host: 'evil.example' } });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.path).toBe('/origin/public/x');
    expect(request!.headers.host).toBe(new URL(setup.originUrl).host);
  });
});

describe('spoofed identity headers', () => {
  /** Names a client might try; every `x-kenni-*` / `x_kenni_*` in any case is the edge's alone. */
  const SPOOFED: Record<string, string> = {
    'X-Kenni-Sub': 'spoofed-sub',
    'X-KENNI-NAME': 'Spoofed%20Name',
    X_Kenni_Sub: 'spoofed-underscore',
    x_kenni_national_id: '9999999999',
    'X-Kenni-National-Id': '1111111111',
    'X-Kenni-Assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.',
    'X-Kenni-Auth': 'bearer',
    'X-Kenni-Scope': '@dev-team.is/admin',
    'x-kenni_sub': 'mixed-separators',
    'X_KENNI-ROLE': 'admin',
    'x-kenni-anything-new': 'future header',
  };

  /** `Headers` folds names to lower case, so `x-kenni-sub` and `X-Kenni-Sub` are one header: send the lower-case one too. */
  const withLowerCaseDuplicate = (headers: Record<string, string>) =>
    new Headers([...Object.entries(headers), ['x-kenni-sub', 'spoofed-lower']]);

  it('none reaches the origin on a public path', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    const headers = withLowerCaseDuplicate(SPOOFED);
    expect([...headers.keys()]).toEqual(expect.arrayContaining(['x_kenni_sub', 'x-kenni_sub', 'x_kenni-role']));
    await setup.edge.fetch('/public/x', { headers });

    const [request] = await setup.originRequests();
    expect(identityHeadersOf(request!)).toEqual({});
  });

  it("on a page path with a session only the edge's own identity arrives", async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup, { claims: { name: 'Þórður Ævarsson', national_id: '0101302989' } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', {
      headers: { ...Object.fromEntries(withLowerCaseDuplicate(SPOOFED)), ...NAVIGATION },
    });

    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(Object.keys(identity).sort()).toEqual([
      'x-kenni-assertion',
      'x-kenni-auth',
      'x-kenni-name',
      'x-kenni-national-id',
      'x-kenni-sub',
      'x-kenni-subject-kind',
    ]);
    expect(identity['x-kenni-sub']).toBe(sub);
    expect(identity['x-kenni-national-id']).toBe('0101302989');
    expect(identity['x-kenni-subject-kind']).toBe('person');
    expect(decodeURIComponent(identity['x-kenni-name']!)).toBe('Þórður Ævarsson');
    expect(identity['x-kenni-auth']).toBe('session');
    expect(identity['x-kenni-assertion']).not.toBe(SPOOFED['X-Kenni-Assertion']);
  });

  it("on an API path with a bearer only the edge's own identity arrives", async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/api/orders', { status: 200 });
    const token = await accessToken(setup, { sub: 'machine-1' });

    await setup.edge.fetch('/api/orders', {
      headers: { ...Object.fromEntries(withLowerCaseDuplicate(SPOOFED)), authorization: `Bearer ${token}` },
    });

    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(Object.keys(identity).sort()).toEqual(['x-kenni-assertion', 'x-kenni-auth', 'x-kenni-scope', 'x-kenni-sub']);
    expect(identity['x-kenni-sub']).toBe('machine-1');
    expect(identity['x-kenni-auth']).toBe('bearer');
    expect(identity['x-kenni-scope']).toBe('@dev-team.is/api.read');
  });

  it("on an API path with a session only the edge's own identity arrives", async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup, { claims: { national_id: undefined } });
    await setup.routeOrigin('GET', '/api/orders', { status: 200 });

    await setup.edge.fetch('/api/orders', {
      headers: { ...Object.fromEntries(withLowerCaseDuplicate(SPOOFED)), ...SAME_ORIGIN_FETCH },
    });

    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-sub']).toBe(sub);
    // The session has no national id, and the spoofed ones are gone.
    expect(identity['x-kenni-national-id']).toBeUndefined();
    expect(Object.keys(identity).filter((name) => name.includes('_'))).toEqual([]);
    expect(identity['x-kenni-scope']).toBeUndefined();
  });
});

describe('cookies', () => {
  it("removes the edge's cookies from the forwarded Cookie header and keeps the others in order", async () => {
    const setup = await setUpGateway();
    const { sessionId, sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/account', { status: 200 });

    const response = await setup.edge.fetch('/account', {
      headers: {
        ...NAVIGATION,
        cookie: `a=1; ${SESSION_COOKIE}=${sessionId}; b=2; ${LOGIN_COOKIE_PREFIX}x=sealed-transaction; c="quoted value"; __host-KENNI-login-y=z`,
      },
      jar: false,
    });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers.cookie).toBe('a=1; b=2; c="quoted value"');
    // The session in the stripped cookie still authenticated the request.
    expect(request!.headers['x-kenni-sub']).toBe(sub);
  });

  it('forwards a Cookie header without edge cookies exactly as sent, nameless cookies included', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', { status: 200 });
    await setup.routeOrigin('GET', '/public/y', { status: 200 });

    await setup.edge.fetch('/public/x', { headers: { cookie: 'a=1;b=2; flag; c=x=y' }, jar: false });
    await setup.edge.fetch('/public/y', { headers: { cookie: `a=1; ${SESSION_COOKIE}=zzz; flag; c=x=y` }, jar: false });

    const [untouched, stripped] = await setup.originRequests();
    expect(untouched!.headers.cookie).toBe('a=1;b=2; flag; c=x=y');
    expect(stripped!.headers.cookie).toBe('a=1; flag; c=x=y');
  });

  it("sends no Cookie header at all when only the edge's cookies came", async () => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    await setup.routeOrigin('GET', '/account', { status: 200 });
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    await setup.edge.fetch('/account', {
      headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${sessionId}; ${LOGIN_COOKIE_PREFIX}abc=def` },
      jar: false,
    });
    await setup.edge.fetch('/public/x', { headers: { cookie: `${SESSION_COOKIE}=${sessionId}` }, jar: false });

    const requests = await setup.originRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) expect(request.headers.cookie, request.path).toBeUndefined();
  });

  it("keeps the origin's own cookies but drops any Set-Cookie that would set or clear the edge's cookies, in any letter case", async () => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    const cookies = [
      'app=1; Path=/; HttpOnly',
      `${SESSION_COOKIE}=attacker-session; Path=/; Secure; HttpOnly`,
      `${SESSION_COOKIE}=; Path=/; Max-Age=0`,
      '__host-kenni-session=lower; Path=/; Secure',
      '__HOST-KENNI-SESSION=upper; Path=/; Secure',
      `${LOGIN_COOKIE_PREFIX}abc=forged; Path=/; Secure`,
      '__Host-Kenni-Login-x=; Max-Age=0; Path=/; Secure',
      ' __Host-kenni-session =padded; Path=/; Secure',
      'theme=dark; Path=/',
      '__Host-kenni-sessions=not-ours; Path=/; Secure',
    ];
    await setup.routeOrigin('GET', '/account', {
      status: 200,
      headers: { 'content-type': 'text/plain', 'x-origin': 'yes', 'set-cookie': cookies },
      body: 'page',
    });

    const response = await setup.edge.fetch('/account', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('page');
    expect(response.headers.get('x-origin')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual([
      'app=1; Path=/; HttpOnly',
      'theme=dark; Path=/',
      '__Host-kenni-sessions=not-ours; Path=/; Secure',
    ]);
    // The browser's session is intact.
    expect(setup.edge.jar.get(SESSION_COOKIE)).toBe(sessionId);
    expect((await setup.edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
  });
});

describe("the origin's hop-by-hop response headers", () => {
  it('are not passed to the client (Connection, Keep-Alive, Proxy-Connection), while end-to-end ones are', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', {
      status: 200,
      headers: {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'x-origin': 'yes',
        'content-type': 'text/plain',
      },
      body: 'ok',
    });

    const response = await setup.edge.fetch('/public/x');

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    expect(response.headers.get('x-origin')).toBe('yes');
    for (const name of ['connection', 'keep-alive', 'proxy-connection'])
      expect(response.headers.get(name), name).toBeNull();
  });
});

describe("the origin's answer", () => {
  it.each([
    [200, 'text/html; charset=utf-8', '<h1>Halló</h1>'],
    [201, 'application/json', '{"id":7}'],
    [404, 'text/plain', 'no such thing'],
    [418, 'text/plain', 'I am a teapot'],
    [500, 'application/json', '{"error":"boom"}'],
    [503, 'text/plain', 'maintenance'],
  ])('passes status %i, headers and body through unchanged', async (status, contentType, body) => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', {
      status,
      headers: {
        'content-type': contentType,
        'cache-control': 'private, max-age=60',
        etag: '"v1"',
        'x-app-version': '3.2.1',
        vary: 'Accept-Language',
        'content-language': 'is',
      },
      body,
    });

    const response = await setup.edge.fetch('/public/x');

    expect(response.status).toBe(status);
    expect(await response.text()).toBe(body);
    expect(response.headers.get('content-type')).toBe(contentType);
    expect(response.headers.get('cache-control')).toBe('private, max-age=60');
    expect(response.headers.get('etag')).toBe('"v1"');
    expect(response.headers.get('x-app-version')).toBe('3.2.1');
    expect(response.headers.get('vary')).toBe('Accept-Language');
    expect(response.headers.get('content-language')).toBe('is');
  });

  it.each([
    [302, '/elsewhere?x=1'],
    [301, 'https://www.example.is/new'],
    [303, '/after-post'],
    [307, '/temporary'],
    [308, '/permanent'],
  ])('passes a %i redirect through with its Location, without following it', async (status, location) => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('GET', '/account/old', { status, headers: { location } });
    await setup.routeOrigin('GET', '/elsewhere', { status: 200, body: 'should not be fetched' });

    const response = await setup.edge.fetch('/account/old', { headers: NAVIGATION });

    expect(response.status).toBe(status);
    expect(response.headers.get('location')).toBe(location);
    const requests = await setup.originRequests();
    expect(requests.map((request) => request.path)).toEqual(['/origin/account/old']);
    expect(requests[0]!.headers['x-kenni-sub']).toBe(sub);
  });

  it('passes 204 and 304 answers through without a body', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('DELETE', '/public/x', { status: 204 });
    await setup.routeOrigin('GET', '/public/x', { status: 304, headers: { etag: '"v1"' } });

    const deleted = await setup.edge.fetch('/public/x', { method: 'DELETE' });
    const notModified = await setup.edge.fetch('/public/x', { headers: { 'if-none-match': '"v1"' } });

    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe('"v1"');
  });
});

describe('CORS preflight', () => {
  it('reaches the origin on an API path without authentication and without identity, and its answer comes back', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    await setup.routeOrigin('OPTIONS', '/api/orders', {
      status: 204,
      headers: {
        'access-control-allow-origin': 'https://app.example.is',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      },
    });

    for (const cookie of [undefined, 'with the session cookie']) {
      const response = await setup.edge.fetch('/api/orders', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.is',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
          'sec-fetch-mode': 'cors',
          'sec-fetch-site': 'cross-site',
        },
        jar: cookie === undefined ? false : setup.edge.jar,
      });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.is');
      expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    }
    const requests = await setup.originRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.method).toBe('OPTIONS');
      expect(request.headers['access-control-request-method']).toBe('POST');
      expect(request.headers.origin).toBe('https://app.example.is');
      expect(identityHeadersOf(request)).toEqual({});
      expect(request.headers.authorization).toBeUndefined();
      expect(request.headers.cookie).toBeUndefined();
    }
  });

  it('reaches the origin on a page path too, while an OPTIONS that is not a preflight needs a session', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('OPTIONS', '/account', { status: 204, headers: { allow: 'GET, POST' } });

    const preflight = await setup.edge.fetch('/account', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.is', 'access-control-request-method': 'PUT' },
    });
    const withoutRequestMethod = await setup.edge.fetch('/account', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.is' },
    });
    const withoutOrigin = await setup.edge.fetch('/api/orders', {
      method: 'OPTIONS',
      headers: { 'access-control-request-method': 'PUT' },
    });

    expect(preflight.status).toBe(204);
    expect(withoutRequestMethod.status).toBe(401);
    expect(withoutOrigin.status).toBe(401);
    expect(await setup.originRequests()).toHaveLength(1);
  });
});
