/**
 * What a refresh response may change (issue #5): a provider that sends no new
 * refresh token leaves the old one in use; a refreshed ID token must name the
 * same subject, issuer and audience, or the session ends.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { tokenResponse } from '../support/scripted-provider.ts';
import { TEST_SUBJECT, generateTestKey, makeIdTokenClaims, signJwt } from '../support/token-factory.ts';
import {
  API_FETCH,
  NAVIGATION,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  bindings,
  createRefreshProvider,
  expectSessionCookieCleared,
  logIn,
  originRequests,
  providerKey,
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

describe('a refresh response without a new refresh token', () => {
  it('keeps the old refresh token: the next refresh sends R1 again', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1' });
    await provider.serveToken([
      await refreshReply(provider, { access_token: 'AT2' }),
      await refreshReply(provider, { access_token: 'AT3', refresh_token: 'R2' }),
    ]);

    const first = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);
    expect(first.status).toBe(200);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R1' });

    const second = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);
    expect(second.status).toBe(200);
    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1', 'R1']);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT3', refresh_token: 'R2' });
  });

  it('keeps the ID token of the login when the refresh response has none (logout still sends id_token_hint)', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', id_token: false }),
    );

    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', id_token: logged.idToken });
    const logout = await edge.fetch('/auth/logout', { headers: NAVIGATION });
    expect(logout.status).toBe(302);
    expect(new URL(logout.headers.get('location')!).searchParams.get('id_token_hint')).toBe(logged.idToken);
  });
});

describe('a refreshed ID token', () => {
  it.each([
    ['another sub', { sub: 'someone-else' }],
    ['another iss', { iss: 'https://idp.kenni.is/other-team.is' }],
    ['another aud', { aud: '@other-team.is/web' }],
  ])('with %s ends the session: 401 session_ended, KV record deleted, cookie cleared', async (_label, claims) => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', claims }));

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expectSessionCookieCleared(response);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(edge.jar.get(SESSION_COOKIE)).toBeUndefined();
    const me = await edge.fetch('/auth/me', {
      headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
      jar: false,
    });
    expect(me.status).toBe(401);
  });

  it('with another sub ends the session on an API path too: 401 JSON, nothing forwarded', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', claims: { sub: 'someone-else' } }),
    );

    clock.at(90);
    const response = await edge.fetch('/api/x', { headers: API_FETCH });

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expectSessionCookieCleared(response);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(await originRequests(provider)).toHaveLength(0);
  });

  it('with the same sub passes and updates the identity claims', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    const before = (await (await edge.fetch('/auth/me', { headers: API_FETCH })).json()) as {
      sub: string;
      claims: Record<string, unknown>;
    };
    expect(before.sub).toBe(TEST_SUBJECT);
    await provider.serveToken(
      await refreshReply(provider, {
        access_token: 'AT2',
        refresh_token: 'R2',
        claims: { name: 'Guðrún Ólafsdóttir' },
      }),
    );

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(200);
    const after = (await (await edge.fetch('/auth/me', { headers: API_FETCH })).json()) as {
      sub: string;
      claims: Record<string, unknown>;
    };
    expect(after.sub).toBe(TEST_SUBJECT);
    expect(after.claims).toMatchObject({ name: 'Guðrún Ólafsdóttir', national_id: before.claims.national_id });
    expect((await readRecord(logged.kvKey))!.claims).toMatchObject({ name: 'Guðrún Ólafsdóttir' });
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
  });

  it('signed by a key the provider does not publish ends the session', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    const stranger = await generateTestKey('RS256', (await providerKey()).kid);
    const forged = await signJwt(
      stranger,
      makeIdTokenClaims({ issuer: provider.issuer, clientId: String(bindings.KENNI_CLIENT_ID), nonce: undefined }),
    );
    await provider.serveToken(
      tokenResponse({ access_token: 'AT2', refresh_token: 'R2', expires_in: 120, id_token: forged }),
    );

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expect(await readRecord(logged.kvKey)).toBeNull();
  });
});
