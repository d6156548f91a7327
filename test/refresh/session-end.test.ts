/**
 * When a refresh fails (issue #5): `invalid_grant` means the provider ended
 * the grant, so the session ends here too; a provider that is down (5xx, no
 * answer within PROVIDER_TIMEOUT, a reset connection) is not the user's fault,
 * so the session stays and the next request tries again.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { tokenError, type Reply } from '../support/scripted-provider.ts';
import {
  API_FETCH,
  NAVIGATION,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  createRefreshProvider,
  expectSessionCookieCleared,
  logIn,
  originRequests,
  readRecord,
  refreshGrants,
  refreshReply,
  scriptedBindings,
  startClock,
  tokensInKv,
} from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('invalid_grant on refresh', () => {
  it('POST /auth/refresh answers 401 session_ended, clears the cookie and deletes the KV record', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken(tokenError('invalid_grant', 'grant revoked'));

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'session_ended' });
    expect(JSON.stringify(body)).not.toMatch(/R1|AT1/);
    expectSessionCookieCleared(response);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();
    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1']);

    const me = await edge.fetch('/auth/me', {
      headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
      jar: false,
    });
    expect(me.status).toBe(401);
  });

  it('lets page navigations through while the token is not needed, then an API request ends the session with 401 JSON', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(tokenError('invalid_grant', 'grant revoked'));

    clock.at(90); // within the refresh window, but pages do not use the token
    const page = await edge.fetch('/account', { headers: NAVIGATION });
    expect(page.status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(0);

    const api = await edge.fetch('/api/x', { headers: API_FETCH });
    expect(api.status).toBe(401);
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(api.headers.get('location')).toBeNull();
    expect(await api.json()).toMatchObject({ code: 'session_ended' });
    expectSessionCookieCleared(api);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(await originRequests(provider)).toHaveLength(0);

    // The session is gone: the same page now sends the browser to login.
    const after = await edge.fetch('/account', {
      headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
      jar: false,
    });
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toBe('/auth/login?return_to=%2Faccount');
    expect(await originRequests(provider, '/account')).toHaveLength(1);
  });
});

describe('the provider down during a refresh', () => {
  const outages: Array<[string, Reply, Record<string, string>]> = [
    ['a 503', { status: 503, body: 'maintenance' }, {}],
    ['no answer within PROVIDER_TIMEOUT', { hang: true }, { PROVIDER_TIMEOUT: '1' }],
    ['a reset connection', { destroy: true }, {}],
  ];

  it.each(outages)(
    'keeps the session on %s: 502 for that request, /auth/me still 200, the next request refreshes',
    async (_label, outage, settings) => {
      const clock = startClock();
      const provider = await createRefreshProvider();
      const edge = createTestEdge(scriptedBindings(provider, settings));
      const logged = await logIn(edge, provider, { expiresIn: 120 });
      await provider.serveToken([outage, await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' })]);

      clock.at(90);
      const failed = await edge.fetch('/api/x', { headers: API_FETCH });
      expect(failed.status).toBe(502);
      expect(await failed.json()).toMatchObject({ code: 'provider_unreachable' });
      expect(failed.headers.getSetCookie()).toEqual([]);
      expect(await originRequests(provider)).toHaveLength(0);

      const me = await edge.fetch('/auth/me', { headers: API_FETCH });
      expect(me.status).toBe(200);
      expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT1', refresh_token: 'R1' });

      const recovered = await edge.fetch('/api/x', { headers: API_FETCH });
      expect(recovered.status).toBe(200);
      expect((await originRequests(provider)).map((request) => request.headers.authorization)).toEqual(['Bearer AT2']);
      expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1', 'R1']);
      expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
    },
  );

  it('POST /auth/refresh answers 502 provider_unreachable and keeps the session', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken({ status: 500, body: 'oops' });

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ code: 'provider_unreachable' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await readRecord(logged.kvKey)).not.toBeNull();
    expect((await edge.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);
  });

  it('keeps the session when the token endpoint answers something that is not OAuth JSON (502 token_response_invalid)', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html>proxy error</html>',
    });

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ code: 'token_response_invalid' });
    expect(await readRecord(logged.kvKey)).not.toBeNull();
    expect((await edge.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);
  });
});
