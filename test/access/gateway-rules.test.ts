/**
 * Access rules through the gateway (issue 11): longest prefix and methods,
 * session vs bearer, the verified-token cache never skips the rules, a 403 is
 * never a redirect for a signed-in identity, and two origins behind one edge
 * (the assertion's aud follows the route).
 */
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Env } from '../../src/config.ts';
import { routeTable } from '../../src/gateway/route.ts';
import { EDGE_ORIGIN } from '../support/edge.ts';
import { GUDRUN, THORDUR } from '../support/presets.ts';
import { accessToken, NAVIGATION, SAME_ORIGIN_FETCH, setUpGateway, signIn } from './../gateway/helpers.ts';

const ADMIN_ONLY = [{ national_id: [THORDUR.national_id] }];

describe('route table', () => {
  const config = parseConfig({
    ...(env as unknown as Env),
    KENNI_ISSUER: 'https://idp.kenni.is/team.is',
    ORIGIN_URL: 'https://origin.example.is',
    PUBLIC_PATHS: '/docs',
    ROUTES: [
      { path: '/admin', allow: ADMIN_ONLY },
      { path: '/admin/reports', require: [{ kind: 'person' }] },
      { path: '/admin/reports', methods: ['POST'], require: [{ min_age: 18 }] },
      { path: '/docs/internal', require: [{ kind: 'person' }], origin: 'https://internal.example.is' },
    ],
  } as Env);
  const table = routeTable(config);
  const match = (path: string, method = 'GET') => table.match(path.split('/').filter(Boolean), method);

  it('the longest whole-segment prefix wins; no match is the default page route to ORIGIN_URL', () => {
    expect(match('/admin').path).toBe('/admin');
    expect(match('/admin/users/1').path).toBe('/admin');
    expect(match('/admin/reports/2026').path).toBe('/admin/reports');
    expect(match('/administrator')).toBe(table.page);
    expect(match('/docs/x')).toMatchObject({ kind: 'public', path: '/docs' });
    expect(match('/docs/internal/x')).toMatchObject({ kind: 'page', path: '/docs/internal' });
    expect(match('/docs/internal/x').origin!.href).toBe('https://internal.example.is/');
    expect(table.page.origin!.href).toBe('https://origin.example.is/');
  });

  it('on a tie an entry with methods beats one without; other methods fall to the one without', () => {
    expect(match('/admin/reports', 'POST').rules.require).toEqual([{ type: 'min_age', years: 18 }]);
    expect(match('/admin/reports', 'post').rules.require).toEqual([{ type: 'min_age', years: 18 }]);
    expect(match('/admin/reports', 'GET').rules.require).toEqual([{ type: 'kind', kind: 'person' }]);
  });

  it('routes with rules match in any letter case; public ones only in their own', () => {
    expect(match('/ADMIN/x').path).toBe('/admin');
    expect(match('/DOCS/x')).toBe(table.page);
  });

  it('routes are one frozen object each, so readings under different routes differ by identity', () => {
    expect(match('/admin/a')).toBe(match('/admin/b'));
    expect(match('/admin/a')).not.toBe(match('/admin/reports'));
    expect(Object.isFrozen(match('/admin'))).toBe(true);
  });
});

describe('rules at the gateway', () => {
  it('a page route: Guðrún gets the 403 page (never a redirect), Þórður gets in', async () => {
    const setup = await setUpGateway({ edge: { ROUTES: JSON.stringify([{ path: '/admin', allow: ADMIN_ONLY }]) } });
    await setup.routeOrigin('GET', '/admin', { status: 200, body: 'admin area' });
    await signIn(setup, { claims: { ...GUDRUN } });
    const refused = await setup.edge.fetch('/admin', { headers: NAVIGATION });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    const page = await refused.text();
    expect(page).toContain('<strong>Guðrún Ólafsdóttir</strong>');
    expect(page).toContain('/auth/login?prompt=delegation');
    const fetched = await setup.edge.fetch('/admin', { headers: SAME_ORIGIN_FETCH });
    expect(fetched.status).toBe(403);
    expect(await fetched.json()).toMatchObject({ error: 'access_denied' });
    expect((await setup.originRequests()).length).toBe(0);

    const thordur = setup.newBrowser();
    await signIn(setup, { browser: thordur, claims: { ...THORDUR } });
    const admitted = await thordur.fetch('/admin', { headers: NAVIGATION });
    expect(admitted.status).toBe(200);
    expect(await admitted.text()).toBe('admin area');
  });

  it('a path whose readings fall under different ROUTES entries is refused (400 path_ambiguous)', async () => {
    const setup = await setUpGateway({ edge: { ROUTES: [{ path: '/admin', allow: ADMIN_ONLY }] } });
    await signIn(setup, { claims: { ...GUDRUN } });
    for (const path of ['/admin%2Fusers', '/x/..%2Fadmin', '/admin;a=b']) {
      const response = await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH });
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'path_ambiguous' });
    }
    expect((await setup.originRequests()).length).toBe(0);
  });

  it('session vs bearer: {"auth": "session"} refuses a bearer token that the route otherwise accepts', async () => {
    const setup = await setUpGateway({
      edge: { ROUTES: [{ path: '/api/console', api: true, require: [{ auth: 'session' }] }] },
    });
    await setup.routeOrigin('GET', '/api/console', { status: 200, body: 'ok' });
    const token = await accessToken(setup, { sub: THORDUR.sub, national_id: THORDUR.national_id });
    const refused = await setup.edge.fetch('/api/console', {
      headers: { authorization: `Bearer ${token}` },
      jar: false,
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'access_denied' });
    await signIn(setup, { claims: { ...THORDUR } });
    const admitted = await setup.edge.fetch('/api/console', { headers: SAME_ORIGIN_FETCH });
    expect(admitted.status).toBe(200);
  });

  it('a bearer token accepted on one route and resent within the cache window to a stricter route gets 403', async () => {
    const setup = await setUpGateway({
      edge: {
        ROUTES: [
          { path: '/api/admin', api: true, allow: ADMIN_ONLY },
          { path: '/api/write', api: true, require: [{ scope: ['orders:write'] }] },
        ],
      },
    });
    await setup.routeOrigin('GET', '/api/orders', { status: 200, body: 'orders' });
    const token = await accessToken(setup, { sub: GUDRUN.sub, national_id: GUDRUN.national_id });
    const headers = { authorization: `Bearer ${token}` };
    expect((await setup.edge.fetch('/api/orders', { headers, jar: false })).status).toBe(200);
    const admin = await setup.edge.fetch('/api/admin', { headers, jar: false });
    expect(admin.status).toBe(403);
    expect(await admin.json()).toMatchObject({ error: 'access_denied', code: 'access_denied' });
    const write = await setup.edge.fetch('/api/write', { headers, jar: false });
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(write.headers.get('www-authenticate')).toContain('scope="orders:write"');
    expect((await setup.originRequests()).map((request) => request.path)).toEqual(['/origin/api/orders']);
  });

  it('two origins behind one edge: each route forwards to its origin, and the assertion aud follows it', async () => {
    const probe = await setUpGateway();
    const second = probe.originUrl.replace('127.0.0.1', 'localhost');
    expect(second).not.toBe(probe.originUrl);
    const setup = await setUpGateway({ edge: { ROUTES: [{ path: '/billing', origin: second }] } });
    await setup.routeOrigin('GET', '/account', { status: 200 });
    // The second origin is another tenant of the scripted server, reached under another host name.
    await probe.routeOrigin('GET', '/billing', { status: 200 });
    await signIn(setup, { claims: { ...THORDUR } });
    expect((await setup.edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);
    const billed = await setup.edge.fetch('/billing', { headers: NAVIGATION });
    expect(billed.status, await billed.clone().text()).toBe(200);
    const [account] = await setup.originRequests();
    const [billing] = await probe.originRequests();
    expect(account!.headers.host).toBe(new URL(setup.originUrl).host);
    expect(billing!.headers.host).toBe(new URL(second).host);
    const keys = createLocalJWKSet(
      (await (await setup.edge.fetch('/auth/jwks.json', { jar: false })).json()) as JSONWebKeySet,
    );
    const verify = (assertion: string | undefined, audience: string) =>
      jwtVerify(assertion!, keys, { algorithms: ['ES256'], issuer: EDGE_ORIGIN, audience });
    await verify(account!.headers['x-kenni-assertion'], new URL(setup.originUrl).origin);
    await verify(billing!.headers['x-kenni-assertion'], new URL(second).origin);
    expect(decodeJwt(billing!.headers['x-kenni-assertion']!).aud).toBe(new URL(second).origin);
  });
});
