/**
 * `TRACE` and `TRACK` (issue #8, item 8): they would echo the forwarded
 * request back, the edge's identity headers and, on API paths, the session's
 * access token included. Refused with 405 on every path. (`TRACK` cannot be
 * built as a `Request` in workerd, so only `TRACE` is sent here; the check
 * covers both.)
 */
import { describe, expect, it } from 'vitest';
import { expectJsonError, SAME_ORIGIN_FETCH, setUpGateway, signIn } from './helpers.ts';

describe('TRACE and TRACK', () => {
  it.each([
    ['a public path', '/public/x'],
    ['a page path', '/account'],
    ['an API path', '/api/orders'],
  ])('are refused with 405 on %s, with or without a session, and never reach the origin', async (_label, path) => {
    const setup = await setUpGateway();
    await signIn(setup);
    await setup.routeOrigin('TRACE', path, { status: 200, body: 'echo' });

    for (const method of ['TRACE', 'trace']) {
      const signedIn = await setup.edge.fetch(path, { method, headers: SAME_ORIGIN_FETCH });
      const anonymous = await setup.edge.fetch(path, { method, headers: { authorization: 'Bearer x' }, jar: false });
      for (const response of [signedIn, anonymous]) {
        await expectJsonError(response, 405, 'method_not_allowed', `${method} ${path}`);
        expect(response.headers.get('allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
      }
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('are refused with 405 under /auth/ too', async () => {
    const setup = await setUpGateway();

    const response = await setup.edge.fetch('/auth/me', { method: 'TRACE' });

    await expectJsonError(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toBe('GET');
  });
});
