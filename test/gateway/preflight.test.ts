/**
 * CORS preflights (issue #8, item 5): an `OPTIONS` with `Origin` and
 * `Access-Control-Request-Method` passes without authentication, so it must
 * reach the origin bare: no body, no `Authorization`, no `Cookie`, no other
 * header a handler could act on. A real cross-origin call after the preflight
 * still works.
 */
import { describe, expect, it } from 'vitest';
import { accessToken, identityHeadersOf, SESSION_COOKIE, setUpGateway, signIn } from './helpers.ts';

/** What a browser sends before a cross-origin `fetch` with an `Authorization` header. */
const PREFLIGHT: Record<string, string> = {
  origin: 'https://app.example.is',
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization, content-type',
  'sec-fetch-mode': 'cors',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-dest': 'empty',
  accept: '*/*',
  'user-agent': 'kenni-test/1.0',
};

/** What a forged "preflight" adds: a body, credentials and headers a handler might act on. */
const SMUGGLED: Record<string, string> = {
  'content-type': 'application/json',
  authorization: 'Bearer forged-token',
  cookie: 'app_session=origin-session-id; theme=dark',
  'x-http-method-override': 'DELETE',
  'x-api-key': 'secret-api-key',
  'x-csrf-token': 'csrf-1',
};

describe('a forged preflight', () => {
  it.each(['/account/delete', '/api/orders', '/public/form'])(
    'on %s reaches the origin bare: no body, no Authorization, no Cookie, no other client headers',
    async (path) => {
      const setup = await setUpGateway();
      const { sessionId } = await signIn(setup);
      await setup.routeOrigin('OPTIONS', path, {
        status: 204,
        headers: { 'access-control-allow-origin': 'https://app.example.is', 'access-control-allow-methods': 'POST' },
      });

      const response = await setup.edge.fetch(`${path}?step=1`, {
        method: 'OPTIONS',
        headers: { ...PREFLIGHT, ...SMUGGLED, cookie: `${SMUGGLED.cookie!}; ${SESSION_COOKIE}=${sessionId}` },
        body: '{"confirm":true}',
        jar: false,
      });

      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.is');
      const [request, ...rest] = await setup.originRequests();
      expect(rest).toEqual([]);
      expect(request).toMatchObject({
        method: 'OPTIONS',
        path: `/origin${path}`,
        search: '?step=1',
        body: '',
        bodyLength: 0,
      });
      for (const name of [
        'authorization',
        'cookie',
        'content-type',
        'x-http-method-override',
        'x-api-key',
        'x-csrf-token',
      ])
        expect(request!.headers[name], name).toBeUndefined();
      expect(request!.headers['content-length'] ?? '0').toBe('0');
      expect(identityHeadersOf(request!)).toEqual({});
      // What a preflight is made of still arrives, so the origin can answer it.
      expect(request!.headers).toMatchObject({
        origin: 'https://app.example.is',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
        'sec-fetch-mode': 'cors',
        accept: '*/*',
        'user-agent': 'kenni-test/1.0',
      });
    },
  );

  it('gets no session refresh, identity or access token on an API path even with a session', async () => {
    const setup = await setUpGateway();
    const { accessToken: sessionToken } = await signIn(setup);
    await setup.routeOrigin('OPTIONS', '/api/orders', { status: 204 });

    await setup.edge.fetch('/api/orders', { method: 'OPTIONS', headers: PREFLIGHT });

    const [request] = await setup.originRequests();
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(request!.headers)).not.toContain(sessionToken);
  });
});

describe('a real cross-origin call', () => {
  it('still works: the preflight is answered by the origin, then the bearer call carries its Authorization and gets the CORS headers back', async () => {
    const setup = await setUpGateway();
    const token = await accessToken(setup, { sub: 'partner-app' });
    const cors = {
      'access-control-allow-origin': 'https://app.example.is',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-allow-methods': 'POST',
    };
    await setup.routeOrigin('OPTIONS', '/api/orders', {
      status: 204,
      headers: { ...cors, 'access-control-max-age': '600' },
    });
    await setup.routeOrigin('POST', '/api/orders', {
      status: 201,
      headers: { 'access-control-allow-origin': 'https://app.example.is' },
      json: { id: 7 },
    });

    const preflight = await setup.edge.fetch('/api/orders', { method: 'OPTIONS', headers: PREFLIGHT, jar: false });
    const call = await setup.edge.fetch('/api/orders', {
      method: 'POST',
      headers: {
        origin: 'https://app.example.is',
        'sec-fetch-mode': 'cors',
        'sec-fetch-site': 'cross-site',
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: '{"item":1}',
      jar: false,
    });

    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
    expect(call.status).toBe(201);
    expect(call.headers.get('access-control-allow-origin')).toBe('https://app.example.is');
    expect(await call.json()).toEqual({ id: 7 });
    const [, post] = await setup.originRequests();
    expect(post).toMatchObject({ method: 'POST', body: '{"item":1}' });
    expect(post!.headers.authorization).toBe(`Bearer ${token}`);
    expect(post!.headers['x-kenni-sub']).toBe('partner-app');
  });
});
