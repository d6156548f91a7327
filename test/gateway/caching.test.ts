/**
 * Shared caches (issue #8, item 6): a forward that carries identity is one
 * user's answer. The subrequest is never stored in Cloudflare's cache
 * (`cache: 'no-store'`, which workerd sends on as `Cache-Control: no-cache`
 * and `Pragma: no-cache`), and the response reaches the browser marked
 * `private`: `public` becomes `private`, `s-maxage` and CDN-targeted cache
 * fields are dropped, and `private` is added when the origin allowed shared
 * storage or said nothing. Public paths without credentials keep their
 * caching as the origin set it.
 */
import { describe, expect, it } from 'vitest';
import { buildOriginRequest } from '../../src/gateway/forward.ts';
import { accessToken, NAVIGATION, SAME_ORIGIN_FETCH, setUpGateway, signIn, type GatewaySetup } from './helpers.ts';

/** The three ways a forward carries identity: a session page, a session API call, a bearer API call. */
const IDENTITY_CARRYING: Array<[string, string, (setup: GatewaySetup) => Promise<Record<string, string>>]> = [
  ['a session page', '/account/statement.pdf', async (setup) => (await signIn(setup), NAVIGATION)],
  ['a session API call', '/api/balance', async (setup) => (await signIn(setup), SAME_ORIGIN_FETCH)],
  ['a bearer API call', '/api/balance', async (setup) => ({ authorization: `Bearer ${await accessToken(setup)}` })],
];

describe.each(IDENTITY_CARRYING)('%s', (_label, path, authenticate) => {
  it('is sent with cache: no-store (the origin sees Cache-Control: no-cache and Pragma: no-cache)', async () => {
    const setup = await setUpGateway();
    const headers = await authenticate(setup);
    await setup.routeOrigin('GET', path, { status: 200, body: 'mine' });

    const response = await setup.edge.fetch(path, { headers });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toMatch(/./);
    expect(request!.headers['cache-control']).toBe('no-cache');
    expect(request!.headers.pragma).toBe('no-cache');
  });

  it.each([
    ['no Cache-Control', undefined, 'private'],
    ['public, max-age=600', 'public, max-age=600', 'private, max-age=600'],
    [
      'public with s-maxage and proxy-revalidate',
      'Public, max-age=60, s-maxage=3600, proxy-revalidate',
      'private, max-age=60',
    ],
    ['s-maxage alone', 's-maxage=3600', 'private'],
    ['max-age alone (shared caches may store it)', 'max-age=60', 'max-age=60, private'],
    ['no-cache (shared caches may store and revalidate it)', 'no-cache', 'no-cache, private'],
    ['must-revalidate with an ETag', 'max-age=0, must-revalidate', 'max-age=0, must-revalidate, private'],
  ])('answers with a private Cache-Control when the origin sent %s', async (_case, sent, expected) => {
    const setup = await setUpGateway();
    const headers = await authenticate(setup);
    await setup.routeOrigin('GET', path, {
      status: 200,
      headers: { 'content-type': 'text/plain', ...(sent ? { 'cache-control': sent } : {}), etag: '"v1"' },
      body: 'mine',
    });

    const response = await setup.edge.fetch(path, { headers });

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe(expected);
    expect(response.headers.get('etag')).toBe('"v1"');
    expect(await response.text()).toBe('mine');
  });

  it('drops CDN-targeted cache fields (CDN-Cache-Control, Cloudflare-CDN-Cache-Control, Surrogate-Control)', async () => {
    const setup = await setUpGateway();
    const headers = await authenticate(setup);
    await setup.routeOrigin('GET', path, {
      status: 200,
      headers: {
        'cache-control': 'private, max-age=60',
        'cdn-cache-control': 'max-age=3600',
        'cloudflare-cdn-cache-control': 'max-age=3600',
        'surrogate-control': 'max-age=3600',
        'x-app': 'kept',
      },
    });

    const response = await setup.edge.fetch(path, { headers });

    expect(response.headers.get('cache-control')).toBe('private, max-age=60');
    for (const name of ['cdn-cache-control', 'cloudflare-cdn-cache-control', 'surrogate-control'])
      expect(response.headers.get(name), name).toBeNull();
    expect(response.headers.get('x-app')).toBe('kept');
  });

  it.each(['no-store', 'max-age=60, private', 'private', 'no-store, no-cache, must-revalidate'])(
    'leaves the origin\'s own "%s" untouched',
    async (sent) => {
      const setup = await setUpGateway();
      const headers = await authenticate(setup);
      await setup.routeOrigin('GET', path, { status: 200, headers: { 'cache-control': sent } });

      const response = await setup.edge.fetch(path, { headers });

      expect(response.headers.get('cache-control')).toBe(sent);
    },
  );
});

describe('a public path without credentials', () => {
  it("is sent without cache: no-store and keeps the origin's public caching, CDN fields included", async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/logo.svg', {
      status: 200,
      headers: { 'cache-control': 'public, max-age=86400, s-maxage=604800', 'cdn-cache-control': 'max-age=604800' },
      body: '<svg/>',
    });
    await setup.routeOrigin('GET', '/public/plain', { status: 200, body: 'plain' });

    const logo = await setup.edge.fetch('/public/logo.svg', { headers: { cookie: 'theme=dark' }, jar: false });
    const plain = await setup.edge.fetch('/public/plain', { jar: false });

    expect(logo.headers.get('cache-control')).toBe('public, max-age=86400, s-maxage=604800');
    expect(logo.headers.get('cdn-cache-control')).toBe('max-age=604800');
    expect(plain.headers.get('cache-control')).toBeNull();
    for (const request of await setup.originRequests()) {
      expect(request.headers['cache-control'], request.path).toBeUndefined();
      expect(request.headers.pragma, request.path).toBeUndefined();
    }
  });

  it("carrying the client's own Authorization is treated as identity-carrying: no-store, and public becomes private", async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/feed', {
      status: 200,
      headers: { 'cache-control': 'public, max-age=300' },
    });

    const response = await setup.edge.fetch('/public/feed', {
      headers: { authorization: 'Bearer partner-key' },
      jar: false,
    });

    expect(response.headers.get('cache-control')).toBe('private, max-age=300');
    const [request] = await setup.originRequests();
    expect(request!.headers.authorization).toBe('Bearer partner-key');
    expect(request!.headers['cache-control']).toBe('no-cache');
  });

  it('even when signed in: the session is not used there, so nothing changes', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    await setup.routeOrigin('GET', '/public/logo.svg', {
      status: 200,
      headers: { 'cache-control': 'public, max-age=86400' },
    });

    const response = await setup.edge.fetch('/public/logo.svg', { headers: NAVIGATION });

    expect(response.headers.get('cache-control')).toBe('public, max-age=86400');
  });
});

describe('the subrequest forward.ts builds', () => {
  const origin = new URL('https://origin.example/base');
  const request = () =>
    new Request('https://edge.test/x?y=1', { headers: { authorization: 'Bearer client', cookie: 'a=1' } });

  it('asks for cache: no-store exactly when identity or an Authorization goes to the origin', () => {
    const withIdentity = buildOriginRequest(request(), { origin, identity: { 'X-Kenni-Sub': 'user-1' } });
    const withEdgeToken = buildOriginRequest(request(), { origin, authorization: 'Bearer session-token' });
    const withClientToken = buildOriginRequest(request(), { origin, keepClientAuthorization: true });
    const anonymous = buildOriginRequest(request(), { origin });
    const preflight = buildOriginRequest(
      new Request('https://edge.test/x', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://a.example',
          'access-control-request-method': 'PUT',
          authorization: 'Bearer client',
        },
      }),
      { origin, preflight: true, keepClientAuthorization: true },
    );

    expect(withIdentity.url).toBe('https://origin.example/base/x?y=1');
    for (const built of [withIdentity, withEdgeToken, withClientToken]) {
      expect(built.init.cache).toBe('no-store');
      expect(built.carriesIdentity).toBe(true);
    }
    for (const built of [anonymous, preflight]) {
      expect(built.init.cache).toBeUndefined();
      expect(built.carriesIdentity).toBe(false);
      expect(new Headers(built.init.headers).get('authorization')).toBeNull();
    }
    expect(new Headers(withClientToken.init.headers).get('authorization')).toBe('Bearer client');
    expect(new Headers(withEdgeToken.init.headers).get('authorization')).toBe('Bearer session-token');
    expect(preflight.init.body).toBeNull();
  });
});
