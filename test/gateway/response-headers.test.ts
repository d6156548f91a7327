/**
 * What the origin's answer may not do to the edge's cookies (issue #8, item
 * 8): `Clear-Site-Data` loses `"cookies"` and `"*"` (its other directives
 * stay), and a nameless `Set-Cookie` whose value would be sent back as an edge
 * cookie is dropped like a named one. The origin's own cookies still set.
 */
import { describe, expect, it } from 'vitest';
import { NAVIGATION, SAME_ORIGIN_FETCH, SESSION_COOKIE, setUpGateway, signIn } from './helpers.ts';

describe('Clear-Site-Data from the origin', () => {
  it.each([
    ['"cookies"', null],
    ['"*"', null],
    ['"cache", "cookies", "storage"', '"cache", "storage"'],
    ['"cookies","executionContexts"', '"executionContexts"'],
    ['"COOKIES", "cache"', '"cache"'],
    ['cookies, "storage"', '"storage"'],
    [' "*" , "cache"', '"cache"'],
    ['"cache", "storage"', '"cache", "storage"'],
  ])('%s reaches the browser as %s, on a page and on a public path', async (sent, expected) => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    await setup.routeOrigin('GET', '/account/logout-everywhere', {
      status: 200,
      headers: { 'clear-site-data': sent, 'x-origin': 'yes' },
    });
    await setup.routeOrigin('GET', '/public/reset', { status: 200, headers: { 'clear-site-data': sent } });

    const page = await setup.edge.fetch('/account/logout-everywhere', { headers: NAVIGATION });
    const publicPath = await setup.edge.fetch('/public/reset');

    expect(page.status).toBe(200);
    expect(page.headers.get('clear-site-data')).toBe(expected);
    expect(page.headers.get('x-origin')).toBe('yes');
    expect(publicPath.headers.get('clear-site-data')).toBe(expected);
    expect(setup.edge.jar.get(SESSION_COOKIE)).toBe(sessionId);
  });
});

describe('Set-Cookie from the origin', () => {
  it("drops nameless cookies whose value a browser would send back as an edge cookie, and keeps the origin's own cookies", async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    const cookies = [
      `=${SESSION_COOKIE}=attacker-session; Path=/; Secure`,
      ` = __Host-kenni-login-x=forged; Path=/; Secure`,
      `${SESSION_COOKIE}; Path=/; Secure`,
      'app=1; Path=/; HttpOnly',
      '=nameless-but-harmless; Path=/',
    ];
    await setup.routeOrigin('GET', '/api/profile', { status: 200, headers: { 'set-cookie': cookies } });

    const response = await setup.edge.fetch('/api/profile', { headers: SAME_ORIGIN_FETCH });

    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(['app=1; Path=/; HttpOnly', '=nameless-but-harmless; Path=/']);
  });
});
