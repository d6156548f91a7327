/**
 * `POST /auth/refresh` (issue #5): refreshes now and answers only when the new
 * access token expires; another site cannot make a browser call it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import {
  API_FETCH,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  createRefreshProvider,
  logIn,
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

describe('POST /auth/refresh', () => {
  it('refreshes even a token far from expiry and answers 200 { expires_at } and nothing else', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: 3600 });
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', expires_in: 900 }),
    );

    clock.at(5);
    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.getSetCookie()).toEqual([]);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ expires_at: clock.start / 1000 + 5 + 900 });
    expect(text).not.toMatch(/AT2|R2|eyJ/);
    expect((await refreshGrants(provider)).map((grant) => grant.form)).toEqual([
      expect.objectContaining({ grant_type: 'refresh_token', refresh_token: 'R1' }),
    ]);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
    expect((await readRecord(logged.kvKey))!.access_token_expires_at).toBe(clock.start / 1000 + 5 + 900);
  });

  it("sends the confidential client's credentials with client_secret_basic", async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    await logIn(edge, provider);
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    const [grant] = await refreshGrants(provider);
    // "@dev-team.is/web" : "dev-web-secret-change-me", each form-encoded (RFC 6749 §2.3.1).
    expect(grant!.headers.authorization).toBe(
      `Basic ${btoa('%40dev%2Dteam%2Eis%2Fweb:dev%2Dweb%2Dsecret%2Dchange%2Dme')}`,
    );
    expect(grant!.form).not.toHaveProperty('client_secret');
  });

  it.each([
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'sec-fetch-site': 'same-site' }],
    ['an Origin of another site', { origin: 'https://evil.example' }],
  ])('refuses a cross-site POST (%s) with 403 cross_site_request and sends no grant', async (_label, headers) => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    const response = await edge.fetch('/auth/refresh', { method: 'POST', headers });

    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'cross_site_request' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await refreshGrants(provider)).toHaveLength(0);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT1', refresh_token: 'R1' });
    expect((await edge.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);
  });

  it('answers 401 session_required without a session', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));

    const none = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await none.json()).toMatchObject({ code: 'session_required' });

    const unknown = await edge.fetch('/auth/refresh', {
      ...SAME_ORIGIN_POST,
      headers: {
        ...(SAME_ORIGIN_POST.headers as Record<string, string>),
        cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}`,
      },
    });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ code: 'session_required' });
    expect(await provider.requests({ path: '/oidc/token' })).toHaveLength(0);
  });

  it('answers GET /auth/refresh with 405 (Allow: POST) and never refreshes', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    await logIn(edge, provider);
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    const response = await edge.fetch('/auth/refresh', { headers: API_FETCH });

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toMatchObject({ code: 'method_not_allowed' });
    expect(await refreshGrants(provider)).toHaveLength(0);
  });
});
