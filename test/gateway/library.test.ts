/**
 * The pieces composed into your own Hono app, as the README shows ("Use the
 * pieces in your own Hono app"): `kenniConfig()`, `createKenniEdge({ gateway:
 * false })`, `requireSession()`, `requireBearer({ scopes })` and `handleError`.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createKenniEdge, handleError, kenniConfig, requireBearer, requireSession, type AppEnv } from '../../src/index.ts';
import { EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { CookieJar } from '../support/provider-login.ts';
import { accessToken, BEARER_CHALLENGE, CLIENT_ID, expectJsonError, expectSessionRequired, NAVIGATION, SAME_ORIGIN_FETCH, setUpGateway, signIn, type GatewaySetup } from './helpers.ts';

const ORDERS_READ = '@your-team.is/orders.read';

/** The README's example app, verbatim apart from the import path. */
function createReadmeApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', kenniConfig()); // parse the settings once per isolate
  app.route('/', createKenniEdge({ gateway: false })); // /auth/login, /auth/callback, /auth/me, …
  app.get('/account', requireSession(), (c) => c.json(c.get('session')!.record.claims));
  app.get('/api/orders', requireBearer({ scopes: [ORDERS_READ] }), (c) => c.json({ sub: c.get('bearer')!.claims.sub }));
  app.onError(handleError); // RFC 6750 JSON and error pages
  return app;
}

/** A browser (cookie jar) in front of `app`, with the setup's bindings. */
function browserFor(app: Hono<AppEnv>, setup: GatewaySetup): TestEdge {
  const testEnv = { ...(env as unknown as Env), KENNI_ISSUER: setup.provider.issuer, ORIGIN_URL: setup.originUrl } as Env;
  const jar = new CookieJar();
  return {
    env: testEnv,
    jar,
    async fetch(path, init = {}) {
      const { jar: jarOption, ...requestInit } = init;
      const activeJar = jarOption === false ? undefined : (jarOption ?? jar);
      const request = new Request(new URL(path, EDGE_ORIGIN), { redirect: 'manual', ...requestInit });
      if (activeJar && !request.headers.has('cookie') && activeJar.header()) request.headers.set('cookie', activeJar.header());
      const ctx = createExecutionContext();
      const response = await app.fetch(request, testEnv, ctx);
      await waitOnExecutionContext(ctx);
      activeJar?.store(response);
      return response;
    },
  };
}

async function setUpApp(): Promise<GatewaySetup & { browser: TestEdge }> {
  const setup = await setUpGateway();
  return { ...setup, browser: browserFor(createReadmeApp(), setup) };
}

describe('your own Hono app with the pieces', () => {
  it('serves /auth/login (302 to the provider with PKCE) and completes a login at /auth/callback', async () => {
    const setup = await setUpApp();

    const login = await setup.browser.fetch('/auth/login?return_to=/account', { headers: NAVIGATION });
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(setup.provider.endpoints.authorization_endpoint);
    expect(authorize.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${EDGE_ORIGIN}/auth/callback`);

    const { sub } = await signIn(setup, { browser: setup.browser });
    const me = await setup.browser.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub });
  });

  it('requireSession() redirects a page navigation to /auth/login, answers a fetch with 401 JSON, and serves the route with a session', async () => {
    const setup = await setUpApp();

    const navigation = await setup.browser.fetch('/account?tab=1', { headers: NAVIGATION });
    expect(navigation.status).toBe(302);
    expect(navigation.headers.get('location')).toBe('/auth/login?return_to=%2Faccount%3Ftab%3D1');
    await expectSessionRequired(await setup.browser.fetch('/account', { headers: SAME_ORIGIN_FETCH }), 'fetch');
    await expectSessionRequired(await setup.browser.fetch('/account', { headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } }), 'XHR');

    const { sub } = await signIn(setup, { browser: setup.browser, claims: { name: 'Þórður Ævarsson', national_id: '0101302989' } });
    const account = await setup.browser.fetch('/account', { headers: NAVIGATION });
    expect(account.status).toBe(200);
    expect(await account.json()).toMatchObject({ sub, name: 'Þórður Ævarsson', national_id: '0101302989' });
  });

  it('requireBearer({ scopes }) answers 200 with the scope, 401 without or with a bad token, 403 without the scope', async () => {
    const setup = await setUpApp();
    const withScope = await accessToken(setup, { sub: 'orders-client', scope: `${ORDERS_READ} other` });
    const withoutScope = await accessToken(setup, { sub: 'orders-client', scope: 'other' });

    const ok = await setup.browser.fetch('/api/orders', { headers: { authorization: `Bearer ${withScope}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sub: 'orders-client' });

    const missing = await setup.browser.fetch('/api/orders', { headers: NAVIGATION });
    await expectJsonError(missing, 401, 'bearer_missing');
    // RFC 6750 §3.1: no error code in the challenge when the request had no credentials at all.
    expect(missing.headers.get('www-authenticate')).toBe(BEARER_CHALLENGE);
    expect(missing.headers.get('location')).toBeNull();

    const forged = await setup.browser.fetch('/api/orders', { headers: { authorization: `Bearer ${withScope.slice(0, -4)}AAAA` } });
    expect((await expectJsonError(forged, 401, 'bearer_invalid')).error).toBe('invalid_token');
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_token"/);

    const insufficient = await setup.browser.fetch('/api/orders', { headers: { authorization: `Bearer ${withoutScope}` } });
    expect(await expectJsonError(insufficient, 403, 'insufficient_scope')).toMatchObject({ error: 'insufficient_scope', scope: ORDERS_READ });
    expect(insufficient.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="kenni-edge", error="insufficient_scope", .*scope="${ORDERS_READ}"$`));
  });

  it('answers requireBearer() failures with 401 + WWW-Authenticate JSON in an app without onError (the error renders itself)', async () => {
    const setup = await setUpGateway();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.get('/api/orders', requireBearer({ scopes: [ORDERS_READ] }), (c) => c.json({ ok: true }));
    const browser = browserFor(app, setup);

    const missing = await browser.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });
    await expectJsonError(missing, 401, 'bearer_missing');
    expect(missing.headers.get('www-authenticate')).toBe(BEARER_CHALLENGE);

    const forged = await browser.fetch('/api/orders', { headers: { authorization: 'Bearer abc.def.ghi' } });
    expect((await expectJsonError(forged, 401, 'bearer_invalid')).error).toBe('invalid_token');
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_token"/);
  });

  it('does not forward anything to ORIGIN_URL with gateway: false: other paths are the app\'s own (404 here)', async () => {
    const setup = await setUpApp();
    await signIn(setup, { browser: setup.browser });
    await setup.routeOrigin('GET', '/elsewhere', { status: 200, body: 'origin' });

    const response = await setup.browser.fetch('/elsewhere', { headers: NAVIGATION });

    expect(response.status).toBe(404);
    expect(await setup.originRequests()).toEqual([]);
  });
});
