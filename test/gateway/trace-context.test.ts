/**
 * W3C Trace Context through the gateway (issue #13, item 5): `traceparent`
 * and `tracestate` reach the origin exactly as the client sent them, on every
 * kind of route and on a CORS preflight, so a trace started before the edge
 * continues at the origin.
 * @see https://www.w3.org/TR/trace-context/
 */
import { describe, expect, it } from 'vitest';
import { accessToken, NAVIGATION, SAME_ORIGIN_FETCH, setUpGateway, signIn } from './helpers.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TRACESTATE = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';

describe('trace context', () => {
  it.each([
    ['a public path', 'GET', '/public/x', async () => ({})],
    [
      'a page path with a session',
      'GET',
      '/account',
      async (setup: Awaited<ReturnType<typeof setUpGateway>>) => (await signIn(setup), NAVIGATION),
    ],
    [
      'an API path with a bearer token',
      'POST',
      '/api/orders',
      async (setup: Awaited<ReturnType<typeof setUpGateway>>) => ({
        authorization: `Bearer ${await accessToken(setup)}`,
      }),
    ],
    [
      'an API path with a session',
      'GET',
      '/api/orders',
      async (setup: Awaited<ReturnType<typeof setUpGateway>>) => (await signIn(setup), SAME_ORIGIN_FETCH),
    ],
    [
      'a CORS preflight',
      'OPTIONS',
      '/api/orders',
      async () => ({ origin: 'https://app.example.is', 'access-control-request-method': 'POST' }),
    ],
  ])('reaches the origin untouched on %s', async (_label, method, path, headersFor) => {
    const setup = await setUpGateway();
    const headers = await headersFor(setup);
    await setup.routeOrigin(method, path, { status: 200, body: 'ok' });

    const response = await setup.edge.fetch(path, {
      method,
      headers: { ...headers, traceparent: TRACEPARENT, TraceState: TRACESTATE },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers.traceparent).toBe(TRACEPARENT);
    expect(request!.headers.tracestate).toBe(TRACESTATE);
  });
});
