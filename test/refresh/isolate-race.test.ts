/**
 * Two isolates refreshing one session without SESSION_LOCKS (issue #5): the
 * in-isolate single-flight cannot see the other isolate, so isolate B may send
 * a refresh token isolate A already used. A strictly rotating provider answers
 * `invalid_grant`; the edge then re-reads KV once, finds A's rotated tokens and
 * keeps the session instead of logging the user out by its own race.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { refreshSession } from '../../src/session/refresh-grant.ts';
import type { ActiveSession, SessionRecord } from '../../src/session/store.ts';
import { createTestEdge } from '../support/edge.ts';
import { tokenError } from '../support/scripted-provider.ts';
import {
  API_FETCH,
  bindings,
  createRefreshProvider,
  kvWithHooks,
  logIn,
  openTokens,
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

describe('a refresh race between isolates without SESSION_LOCKS', () => {
  it("keeps the session when isolate B sends the refresh token isolate A already rotated: B forwards with A's new access token", async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const isolateA = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(isolateA, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: 120 });
    const staleRecord = await readRecord(logged.kvKey);
    // R1 once → R2; any later grant (R1 again, then R2: the family is revoked) → invalid_grant.
    await provider.serveToken([
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }),
      tokenError('invalid_grant', 'refresh token reused'),
    ]);

    clock.at(70);
    const a = await isolateA.fetch('/api/x', { headers: API_FETCH });
    expect(a.status).toBe(200);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });

    // Isolate B (a fresh env: nothing cached), and its first KV read still sees the record from before A's write.
    let staleReads = 0;
    const staleKv = kvWithHooks(bindings.SESSIONS, {
      get(key) {
        if (key !== logged.kvKey || staleReads > 0) return undefined;
        staleReads++;
        return staleRecord;
      },
    });
    const isolateB = createTestEdge(scriptedBindings(provider, { SESSIONS: staleKv }));
    const b = await isolateB.fetch('/api/x', {
      headers: { ...API_FETCH, cookie: `__Host-kenni-session=${logged.sessionId}` },
      jar: false,
    });

    expect(staleReads).toBe(1);
    expect(b.status).toBe(200);
    expect(b.headers.getSetCookie()).toEqual([]);
    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1', 'R1']);
    expect((await originRequests(provider)).map((request) => request.headers.authorization)).toEqual([
      'Bearer AT2',
      'Bearer AT2',
    ]);
    expect(await readRecord(logged.kvKey)).not.toBeNull();
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
    expect((await isolateA.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);
  });

  it('refreshSession with a stale session returns the tokens another isolate rotated, without deleting the record', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: 120 });
    const staleRecord = (await readRecord(logged.kvKey))!;
    const staleSession: ActiveSession = { id: logged.sessionId, keyHash: logged.keyHash, record: staleRecord };
    const staleTokens = (await openTokens(staleRecord, logged.keyHash))!;
    await provider.serveToken([
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }),
      tokenError('invalid_grant', 'refresh token reused'),
    ]);

    clock.at(70);
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200); // isolate A rotates R1 → R2

    const config = loadConfig(edge.env);
    const result = await refreshSession(config, edge.env, staleSession, staleTokens);

    expect(result.tokens).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
    expect(result.session.record.tokens).toBe(((await readRecord(logged.kvKey)) as SessionRecord).tokens);
    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1', 'R1']);
    expect(await readRecord(logged.kvKey)).not.toBeNull();
  });

  it('ends the session when invalid_grant comes and KV holds no newer tokens than the ones sent', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(tokenError('invalid_grant', 'grant revoked'));

    clock.at(70);
    const response = await edge.fetch('/api/x', { headers: API_FETCH });

    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expect(await readRecord(logged.kvKey)).toBeNull();
  });
});
