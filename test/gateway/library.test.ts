/**
 * The pieces composed into your own Hono app, as the README shows ("Use the
 * pieces in your own Hono app"): `kenniConfig()`, `createKenniEdge({ gateway:
 * false })`, `requireSession()`, `requireBearer({ scopes })` and `handleError`.
 */
import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import {
  createKenniEdge,
  handleError,
  kenniConfig,
  requireBearer,
  requireSession,
  type AppEnv,
} from '../../src/index.ts';
import { createAppEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { tokenResponse } from '../support/scripted-provider.ts';
import {
  accessToken,
  API_BEARER_CHALLENGE,
  CLIENT_ID,
  expectJsonError,
  expectSessionRequired,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from './helpers.ts';

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
function browserFor(app: Hono<AppEnv>, setup: GatewaySetup, overrides: Partial<Env> = {}): TestEdge {
  return createAppEdge(app, { KENNI_ISSUER: setup.provider.issuer, ORIGIN_URL: setup.originUrl, ...overrides });
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
    await expectSessionRequired(
      await setup.browser.fetch('/account', { headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } }),
      'XHR',
    );

    const { sub } = await signIn(setup, {
      browser: setup.browser,
      claims: { name: 'Þórður Ævarsson', national_id: '0101302989' },
    });
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
    expect(missing.headers.get('www-authenticate')).toBe(API_BEARER_CHALLENGE);
    expect(missing.headers.get('location')).toBeNull();

    const forged = await setup.browser.fetch('/api/orders', {
      headers: { authorization: `Bearer ${withScope.slice(0, -4)}AAAA` },
    });
    expect((await expectJsonError(forged, 401, 'bearer_invalid')).error).toBe('invalid_token');
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_token"/);

    const insufficient = await setup.browser.fetch('/api/orders', {
      headers: { authorization: `Bearer ${withoutScope}` },
    });
    expect(await expectJsonError(insufficient, 403, 'insufficient_scope')).toMatchObject({
      error: 'insufficient_scope',
      scope: ORDERS_READ,
    });
    expect(insufficient.headers.get('www-authenticate')).toMatch(
      new RegExp(
        `^Bearer realm="kenni-edge", error="insufficient_scope", .*scope="${ORDERS_READ}", resource_metadata="[^"]+"$`,
      ),
    );
  });

  it('answers requireBearer() failures with 401 + WWW-Authenticate JSON in an app without onError (the error renders itself)', async () => {
    const setup = await setUpGateway();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.get('/api/orders', requireBearer({ scopes: [ORDERS_READ] }), (c) => c.json({ ok: true }));
    const browser = browserFor(app, setup);

    const missing = await browser.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });
    await expectJsonError(missing, 401, 'bearer_missing');
    expect(missing.headers.get('www-authenticate')).toBe(API_BEARER_CHALLENGE);

    const forged = await browser.fetch('/api/orders', { headers: { authorization: 'Bearer abc.def.ghi' } });
    expect((await expectJsonError(forged, 401, 'bearer_invalid')).error).toBe('invalid_token');
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_token"/);
  });

  it('requireSession() refuses a cross-site POST authenticated by the cookie (403 cross_site_request) and serves a same-origin one', async () => {
    const setup = await setUpApp();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false }));
    app.post('/account/settings', requireSession(), (c) => c.json({ saved: true }));
    app.onError(handleError);
    const browser = browserFor(app, setup);
    await signIn(setup, { browser });

    const crossSite = await browser.fetch('/account/settings', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', origin: 'https://evil.example' },
    });
    await expectJsonError(crossSite, 403, 'cross_site_request');
    const sameOrigin = await browser.fetch('/account/settings', { method: 'POST', headers: SAME_ORIGIN_FETCH });
    expect(sameOrigin.status).toBe(200);
    expect(await sameOrigin.json()).toEqual({ saved: true });
  });

  it('requireSession() and requireBearer() set c.var.principal: subject, claims, how authenticated, scopes', async () => {
    const setup = await setUpGateway();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false }));
    const show = (c: Context<AppEnv>) => {
      const { subject, auth, scopes, claims, session } = c.get('principal')!;
      return c.json({ subject, auth, scopes, name: claims.name, hasSession: session !== undefined });
    };
    app.get('/account', requireSession(), show);
    app.get('/api/orders', requireBearer({ scopes: [ORDERS_READ] }), show);
    const browser = browserFor(app, setup);
    const { sub } = await signIn(setup, { browser, claims: { name: 'Þórður Ævarsson' } });

    const account = await browser.fetch('/account', { headers: SAME_ORIGIN_FETCH });
    // The token response named no scope, so the session was granted the scope the login asked for (RFC 6749 §5.1).
    expect(await account.json()).toEqual({
      subject: sub,
      auth: 'session',
      scopes: ['openid', 'profile', 'national_id', 'offline_access', '@dev-team.is/api.read'],
      name: 'Þórður Ævarsson',
      hasSession: true,
    });
    const token = await accessToken(setup, { sub: 'orders-client', name: 'Orders', scope: `${ORDERS_READ} other` });
    const orders = await browser.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` }, jar: false });
    expect(await orders.json()).toEqual({
      subject: 'orders-client',
      auth: 'bearer',
      scopes: [ORDERS_READ, 'other'],
      name: 'Orders',
      hasSession: false,
    });
  });

  it('requireSession({ freshToken: true }) refreshes a near-expiry session and hands the new access token to the route', async () => {
    const setup = await setUpGateway();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false }));
    app.get('/account/orders', requireSession({ freshToken: true }), (c) => c.json({ token: c.get('accessToken') }));
    app.get('/account', requireSession(), (c) => c.json({ token: c.get('accessToken') ?? null }));
    // Without SESSION_LOCKS: the Durable Object refreshes with the worker's own bindings (the real provider), not this test's issuer.
    const browser = browserFor(app, setup, { SESSION_LOCKS: undefined });
    await signIn(setup, { browser, accessToken: 'about-to-expire', expiresIn: 30 });
    await setup.provider.serveToken(
      tokenResponse({ access_token: 'fresh-access-token', expires_in: 3600, refresh_token: 'refresh-2' }),
    );

    expect(await (await browser.fetch('/account', { headers: SAME_ORIGIN_FETCH })).json()).toEqual({ token: null });
    const response = await browser.fetch('/account/orders', { headers: SAME_ORIGIN_FETCH });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ token: 'fresh-access-token' });
    const refreshes = await setup.provider.requests({ method: 'POST', path: '/oidc/token' });
    expect(refreshes.at(-1)!.form).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'refresh-1' });
  });

  it("does not forward anything to ORIGIN_URL with gateway: false: other paths are the app's own (404 here)", async () => {
    const setup = await setUpApp();
    await signIn(setup, { browser: setup.browser });
    await setup.routeOrigin('GET', '/elsewhere', { status: 200, body: 'origin' });

    const response = await setup.browser.fetch('/elsewhere', { headers: NAVIGATION });

    expect(response.status).toBe(404);
    expect(await setup.originRequests()).toEqual([]);
  });
});
