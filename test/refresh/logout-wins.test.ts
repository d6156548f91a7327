/**
 * Logout wins (issue #8 item 3, issue #14 item 4): once a session is logged
 * out, nothing this isolate still holds writes it back: neither the idle clock
 * (`touchSession`) of a request that loaded it before, nor a refresh that
 * finishes after the logout (`saveSessionTokens`).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Env, type KenniEdgeConfig } from '../../src/config.ts';
import { refreshSession } from '../../src/session/refresh-grant.ts';
import {
  loadSession,
  readSessionTokens,
  saveSessionTokens,
  touchSession,
  type ActiveSession,
} from '../../src/session/store.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import {
  API_FETCH,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  bindings,
  createRefreshProvider,
  logIn,
  originRequests,
  refreshGrants,
  readRecord,
  refreshReply,
  scriptedBindings,
  startClock,
  tokensInKv,
  type LoggedIn,
} from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** Another isolate of the same edge: the same bindings in a fresh env, so nothing of this isolate's session state. */
function anotherIsolate(edge: TestEdge): { env: Env; config: KenniEdgeConfig } {
  const env = { ...edge.env };
  return { env, config: loadConfig(env) };
}

/** A session signed in at a scripted provider, and the record as a request that loaded it holds it. */
async function signedInAndHeld(options?: Parameters<typeof logIn>[2]): Promise<{
  provider: ScriptedProvider;
  edge: TestEdge;
  logged: LoggedIn;
  config: KenniEdgeConfig;
  held: ActiveSession;
}> {
  const provider = await createRefreshProvider();
  const edge = createTestEdge(scriptedBindings(provider));
  const logged = await logIn(edge, provider, options);
  const config = loadConfig(edge.env);
  const held = (await loadSession(config, edge.env.SESSIONS, logged.sessionId))!;
  return { provider, edge, logged, config, held };
}

/** Logs the browser out with a same-origin `POST /auth/logout`. */
async function logOut(edge: TestEdge): Promise<void> {
  const response = await edge.fetch('/auth/logout', SAME_ORIGIN_POST);
  expect(response.status).toBe(302);
}

/** KV holds no usable record for the session (nothing, or a record without subject and tokens), and the session id no longer passes. */
async function expectSessionDead(edge: TestEdge, logged: LoggedIn): Promise<void> {
  const record = await bindings.SESSIONS.get<Record<string, unknown>>(logged.kvKey, 'json');
  expect(record === null || (record.sub === undefined && record.tokens === undefined), JSON.stringify(record)).toBe(
    true,
  );
  const me = await edge.fetch('/auth/me', {
    headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
    jar: false,
  });
  expect(me.status).toBe(401);
}

describe('after a logout in the same isolate', () => {
  it('the idle clock of a request that loaded the session before the logout does not write it back (touchSession)', async () => {
    const { edge, logged, config, held } = await signedInAndHeld();
    expect(held.keyHash).toBe(logged.keyHash);

    await logOut(edge);
    await touchSession(config, edge.env.SESSIONS, held);

    await expectSessionDead(edge, logged);
  });

  it('a refresh result saved after the logout does not write it back (saveSessionTokens)', async () => {
    const { edge, logged, config, held } = await signedInAndHeld();
    const tokens = (await readSessionTokens(config, held))!;

    await logOut(edge);
    const late = saveSessionTokens(config, edge.env.SESSIONS, held, {
      ...tokens,
      access_token: 'AT-late',
      refresh_token: 'R-late',
    });

    await expect(late).rejects.toMatchObject({ code: 'session_ended', status: 401 });

    await expectSessionDead(edge, logged);
  });

  it('a refresh grant still at the provider when the logout happens does not bring the session back', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken({
      ...(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' })),
      delayMs: 400,
    });

    clock.at(90);
    const api = edge.fetch('/api/x', {
      headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
      jar: false,
    });
    // Log out while the grant is at the provider (waits for the grant to arrive there, not for time).
    while ((await refreshGrants(provider)).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await logOut(edge);
    const inFlight = await api;

    // The request that started the refresh before the logout does not reach the origin with the new token either.
    expect(inFlight.status).toBe(401);
    expect(await inFlight.json()).toMatchObject({ code: 'session_ended' });

    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1']);
    await expectSessionDead(edge, logged);
    const later = await edge.fetch('/api/x', {
      headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
      jar: false,
    });
    expect(later.status).toBe(401);
    expect(await originRequests(provider)).toEqual([]);
  });
});

describe('after a logout in another isolate', () => {
  it('a refresh in an isolate that still holds the session answers session_ended and does not write it back', async () => {
    const { provider, edge, logged, config, held } = await signedInAndHeld({ accessToken: 'AT1', refreshToken: 'R1' });
    const tokens = (await readSessionTokens(config, held))!;
    // This provider has no revocation_endpoint: only the edge's own check can stop the write.
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));

    await logOut(edge);
    const unaware = anotherIsolate(edge); // from here on, an isolate that never saw the logout
    const refresh = refreshSession(unaware.config, unaware.env, held, tokens);

    await expect(refresh).rejects.toMatchObject({ code: 'session_ended', status: 401 });
    expect((await refreshGrants(provider)).map((grant) => grant.form?.refresh_token)).toEqual(['R1']);
    await expectSessionDead(edge, logged);
  });

  it('the idle clock of an isolate that still holds the session does not write it back', async () => {
    const { edge, logged, held } = await signedInAndHeld();

    await logOut(edge);
    await touchSession(anotherIsolate(edge).config, edge.env.SESSIONS, held);

    await expectSessionDead(edge, logged);
  });
});

describe('the idle clock of an isolate with an older copy', () => {
  it('moves the clock on the newest record KV holds, never rolling back tokens another isolate rotated', async () => {
    const clock = startClock();
    const { edge, logged, config, held } = await signedInAndHeld({ accessToken: 'AT1', refreshToken: 'R1' });
    const tokens = (await readSessionTokens(config, held))!;

    // Another isolate rotates the tokens 100 s later…
    clock.at(100);
    await saveSessionTokens(anotherIsolate(edge).config, edge.env.SESSIONS, held, {
      ...tokens,
      access_token: 'AT2',
      refresh_token: 'R2',
      expires_at: tokens.expires_at + 100,
    });
    // …while this isolate, still holding the login's copy, moves the idle clock.
    clock.at(200);
    await touchSession(anotherIsolate(edge).config, edge.env.SESSIONS, held);

    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT2', refresh_token: 'R2' });
    expect((await readRecord(logged.kvKey))!.last_seen_at).toBe(clock.start / 1000 + 200);
  });
});
