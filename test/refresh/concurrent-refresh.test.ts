/**
 * Refresh before use on API paths (issue #5): a session's access token is
 * refreshed once, before it is forwarded, when it expires within
 * REFRESH_BEFORE_EXPIRY (60 s by default), however many requests of that
 * session arrive at once; the provider rotates refresh tokens strictly.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { tokenError } from '../support/scripted-provider.ts';
import {
  API_FETCH,
  bindings,
  createRefreshProvider,
  kvWithHooks,
  logIn,
  NAVIGATION,
  openTokens,
  originRequests,
  refreshGrants,
  refreshReply,
  scriptedBindings,
  startClock,
  tokensInKv,
} from './helpers.ts';
import type { SessionRecord } from '../../src/session/store.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('refresh before forwarding an API request', () => {
  it('sends exactly one refresh grant for 10 concurrent API requests within 60 s of expiry, and forwards all 10 with the new access token', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    // Strictly single-use refresh tokens: the first grant (with R1) rotates to R2; any further grant
    // (a second use of R1, and from then on R2 too: the family is revoked) is invalid_grant.
    const seenAtWrite: Array<{ originRequests: number; accessToken: string | undefined }> = [];
    let logged: Awaited<ReturnType<typeof logIn>> | undefined;
    const sessions = kvWithHooks(bindings.SESSIONS, {
      async beforePut(key, value) {
        if (!logged || key !== logged.kvKey) return;
        const tokens = await openTokens(JSON.parse(value) as SessionRecord, logged.keyHash);
        seenAtWrite.push({
          originRequests: (await originRequests(provider)).length,
          accessToken: tokens?.access_token,
        });
      },
    });
    const edge = createTestEdge(scriptedBindings(provider, { SESSIONS: sessions }));
    logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: 120 });
    await provider.serveToken([
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', expires_in: 120 }),
      tokenError('invalid_grant', 'refresh token reused: grant revoked'),
    ]);

    clock.at(61); // 59 s left
    const responses = await Promise.all(Array.from({ length: 10 }, () => edge.fetch('/api/x', { headers: API_FETCH })));

    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    const grants = await refreshGrants(provider);
    expect(grants).toHaveLength(1);
    expect(grants[0]!.form).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'R1' });
    const forwarded = await originRequests(provider);
    expect(forwarded).toHaveLength(10);
    expect(forwarded.map((request) => request.headers.authorization)).toEqual(Array(10).fill('Bearer AT2'));
    // The new tokens were in KV before anything was forwarded.
    expect(seenAtWrite[0]).toEqual({ originRequests: 0, accessToken: 'AT2' });
    expect(await tokensInKv(logged)).toMatchObject({
      access_token: 'AT2',
      refresh_token: 'R2',
      expires_at: clock.start / 1000 + 61 + 120,
    });
    const me = await edge.fetch('/auth/me', { headers: API_FETCH });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { sub: string }).sub).toBe(logged.sub);
  });

  it('does not refresh an access token that still has more than 60 s', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: 120 });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    clock.at(59); // 61 s left
    const responses = await Promise.all(Array.from({ length: 5 }, () => edge.fetch('/api/x', { headers: API_FETCH })));

    expect(responses.map((response) => response.status)).toEqual(Array(5).fill(200));
    expect(await refreshGrants(provider)).toHaveLength(0);
    expect((await originRequests(provider)).map((request) => request.headers.authorization)).toEqual(
      Array(5).fill('Bearer AT1'),
    );
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT1', refresh_token: 'R1' });
  });

  it('refreshes at exactly 60 s left (the window includes its edge)', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    clock.at(60);
    const response = await edge.fetch('/api/x', { headers: API_FETCH });

    expect(response.status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(1);
    expect((await originRequests(provider))[0]!.headers.authorization).toBe('Bearer AT2');
  });

  it('uses REFRESH_BEFORE_EXPIRY as the window: 10 s leaves a token with 59 s alone and refreshes it at 9 s', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { REFRESH_BEFORE_EXPIRY: '10' }));
    await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    clock.at(61); // 59 s left
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(0);

    clock.at(111); // 9 s left
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(1);
    expect((await originRequests(provider)).map((request) => request.headers.authorization)).toEqual([
      'Bearer AT1',
      'Bearer AT2',
    ]);
  });

  it('uses REFRESH_BEFORE_EXPIRY as the window: 100 s refreshes a token with 99 s left', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { REFRESH_BEFORE_EXPIRY: '100' }));
    await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    clock.at(19); // 101 s left
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(0);

    clock.at(21); // 99 s left
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(1);
    expect((await originRequests(provider)).map((request) => request.headers.authorization)).toEqual([
      'Bearer AT1',
      'Bearer AT2',
    ]);
  });

  it('forwards a page navigation without the access token and without refreshing it', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const { sub } = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    clock.at(119); // 1 s left
    const page = await edge.fetch('/account', { headers: NAVIGATION });

    expect(page.status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(0);
    const [forwarded] = await originRequests(provider, '/account');
    expect(forwarded!.headers.authorization).toBeUndefined();
    expect(forwarded!.headers['x-kenni-sub']).toBe(sub);
  });
});
