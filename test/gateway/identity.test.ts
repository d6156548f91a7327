/**
 * The identity the origin receives (issue #4): `X-Kenni-Sub`,
 * `X-Kenni-National-Id` (only when there is one), `X-Kenni-Name` as
 * percent-encoded UTF-8 so Icelandic names arrive intact, and on API paths the
 * credential: the session's access token as `Authorization: Bearer`, or the
 * caller's own bearer token unchanged.
 */
import { describe, expect, it } from 'vitest';
import { tokenResponse } from '../support/scripted-provider.ts';
import { makeAccessTokenClaims, signJwt } from '../support/token-factory.ts';
import {
  accessToken,
  API_AUDIENCE,
  API_SCOPE,
  identityHeadersOf,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
} from './helpers.ts';

const THORDUR = { name: 'Þórður Ævarsson', national_id: '0101302989' };

describe('identity headers from a session', () => {
  it('sends X-Kenni-Sub, X-Kenni-National-Id and X-Kenni-Name (percent-encoded UTF-8 that decodes to the exact name)', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup, { claims: THORDUR });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    const response = await setup.edge.fetch('/account', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-sub']).toBe(sub);
    expect(identity['x-kenni-national-id']).toBe('0101302989');
    expect(identity['x-kenni-name']).toBe('%C3%9E%C3%B3r%C3%B0ur%20%C3%86varsson');
    expect(decodeURIComponent(identity['x-kenni-name']!)).toBe('Þórður Ævarsson');
    expect(identity['x-kenni-auth']).toBe('session');
    // Every identity value is plain ASCII on the wire.
    for (const [name, value] of Object.entries(identity)) expect(value, name).toMatch(/^[\x20-\x7e]*$/);
  });

  it.each([
    ['Guðrún Ólafsdóttir'],
    ['Ægir Örn Þráinsson-Ýmisdóttir'],
    ['Jón'],
    ['Anna Smith'],
    ['O\'Brien, "Siggi" & co; 100% <ok>'],
    ['Łukasz Żółć 漢字 😀'],
  ])('carries the name %s intact', async (name) => {
    const setup = await setUpGateway();
    await signIn(setup, { claims: { name } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    expect(decodeURIComponent(request!.headers['x-kenni-name']!)).toBe(name);
  });

  it('sends no X-Kenni-National-Id when the session has none, and no X-Kenni-Name without a name', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup, { claims: { national_id: undefined, name: undefined } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-sub']).toBe(sub);
    expect(identity['x-kenni-national-id']).toBeUndefined();
    expect(identity['x-kenni-name']).toBeUndefined();
  });

  it('cannot be used to inject headers: CR/LF and other non-ASCII in claims arrive percent-encoded', async () => {
    const setup = await setUpGateway();
    const sub = 'user-1\r\nX-Kenni-Admin: true';
    await signIn(setup, { claims: { sub, name: 'Eve\r\nX-Injected: 1', national_id: '0101302989\nX-Evil: 1' } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    const response = await setup.edge.fetch('/account', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers['x-injected']).toBeUndefined();
    expect(request!.headers['x-evil']).toBeUndefined();
    expect(request!.headers['x-kenni-admin']).toBeUndefined();
    expect(decodeURIComponent(request!.headers['x-kenni-sub']!)).toBe(sub);
    expect(decodeURIComponent(request!.headers['x-kenni-name']!)).toBe('Eve\r\nX-Injected: 1');
    expect(decodeURIComponent(request!.headers['x-kenni-national-id']!)).toBe('0101302989\nX-Evil: 1');
  });

  it("tells two users apart: each browser's requests carry its own identity", async () => {
    const setup = await setUpGateway();
    const second = setup.newBrowser();
    const thordur = await signIn(setup, { claims: THORDUR });
    const gudrun = await signIn(setup, {
      browser: second,
      claims: { name: 'Guðrún Ólafsdóttir', national_id: '1203894599' },
    });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });
    await second.fetch('/account', { headers: NAVIGATION });
    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const requests = await setup.originRequests();
    expect(
      requests.map((request) => [
        request.headers['x-kenni-sub'],
        decodeURIComponent(request.headers['x-kenni-name']!),
        request.headers['x-kenni-national-id'],
      ]),
    ).toEqual([
      [thordur.sub, 'Þórður Ævarsson', '0101302989'],
      [gudrun.sub, 'Guðrún Ólafsdóttir', '1203894599'],
      [thordur.sub, 'Þórður Ævarsson', '0101302989'],
    ]);
  });
});

describe('the credential forwarded on API paths', () => {
  it("forwards the session's access token as Authorization: Bearer, replacing whatever the browser sent", async () => {
    const setup = await setUpGateway();
    const { sub, accessToken: sessionToken } = await signIn(setup, {
      claims: THORDUR,
      accessToken: 'opaque-session-access-token-1',
    });
    await setup.routeOrigin('GET', '/api/me', { json: {} });

    await setup.edge.fetch('/api/me', { headers: SAME_ORIGIN_FETCH });
    await setup.edge.fetch('/api/me', { headers: { ...SAME_ORIGIN_FETCH, authorization: 'Basic YWRtaW46YWRtaW4=' } });

    const requests = await setup.originRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.headers.authorization).toBe(`Bearer ${sessionToken}`);
      expect(request.headers['x-kenni-sub']).toBe(sub);
      expect(request.headers['x-kenni-auth']).toBe('session');
      expect(decodeURIComponent(request.headers['x-kenni-name']!)).toBe('Þórður Ævarsson');
    }
  });

  it("does not forward the session's access token to page paths", async () => {
    const setup = await setUpGateway();
    await signIn(setup, { accessToken: 'never-on-pages' });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.stringify(request!.headers)).not.toContain('never-on-pages');
  });

  it("refreshes the session's access token first when it is about to expire, and forwards the new one", async () => {
    // Without SESSION_LOCKS: the Durable Object refreshes with the worker's own bindings (the real provider), not this test's issuer.
    const setup = await setUpGateway({ edge: { SESSION_LOCKS: undefined } });
    await signIn(setup, { accessToken: 'about-to-expire', expiresIn: 30 });
    await setup.provider.serveToken(
      tokenResponse({ access_token: 'fresh-access-token', expires_in: 3600, refresh_token: 'refresh-2' }),
    );
    await setup.routeOrigin('GET', '/api/me', { json: {} });

    const response = await setup.edge.fetch('/api/me', { headers: SAME_ORIGIN_FETCH });

    expect(response.status, await response.clone().text()).toBe(200);
    const [request] = await setup.originRequests();
    expect(request!.headers.authorization).toBe('Bearer fresh-access-token');
    const refreshes = await setup.provider.requests({ method: 'POST', path: '/oidc/token' });
    expect(refreshes.at(-1)!.form).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'refresh-1' });
  });

  it("forwards a bearer caller's own Authorization unchanged, with X-Kenni-Sub from the token", async () => {
    const setup = await setUpGateway();
    const token = await accessToken(setup, {
      sub: 'dev-user-thordur',
      name: 'Þórður Ævarsson',
      national_id: '0101302989',
      scope: `${API_SCOPE} @dev-team.is/api.write`,
    });
    await setup.routeOrigin('POST', '/api/orders', { status: 201 });

    const response = await setup.edge.fetch('/api/orders', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });

    expect(response.status).toBe(201);
    const [request] = await setup.originRequests();
    expect(request!.headers.authorization).toBe(`Bearer ${token}`);
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-sub']).toBe('dev-user-thordur');
    expect(identity['x-kenni-auth']).toBe('bearer');
    expect(identity['x-kenni-national-id']).toBe('0101302989');
    expect(decodeURIComponent(identity['x-kenni-name']!)).toBe('Þórður Ævarsson');
    expect(identity['x-kenni-scope']!.split(' ').sort()).toEqual([API_SCOPE, '@dev-team.is/api.write'].sort());
  });

  it('names a machine client by its client_id when its token has no sub', async () => {
    const setup = await setUpGateway();
    const { sub: _sub, ...claims } = makeAccessTokenClaims({
      issuer: setup.provider.issuer,
      audience: API_AUDIENCE,
      scope: API_SCOPE,
      clientId: '@dev-team.is/m2m',
    });
    const token = await signJwt(setup.key, claims);
    await setup.routeOrigin('GET', '/api/orders', { json: [] });

    const response = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(decodeURIComponent(request!.headers['x-kenni-sub']!)).toBe('@dev-team.is/m2m');
    expect(request!.headers['x-kenni-national-id']).toBeUndefined();
  });
});
