/**
 * Logout wins (issue #8 item 3, issue #14 item 4): once a session is logged
 * out, nothing this isolate still holds writes it back: the idle clock
 * (`touchSession`) of a request that loaded it before does not.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { clearSessionIsolateCache, loadSession, touchSession } from '../../src/session/store.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import {
  API_FETCH,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  bindings,
  createRefreshProvider,
  logIn,
  scriptedBindings,
  type LoggedIn,
} from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
  clearSessionIsolateCache();
});

/** Logs the browser out with a same-origin `POST /auth/logout`. */
async function logOut(edge: TestEdge): Promise<void> {
  const response = await edge.fetch('/auth/logout', SAME_ORIGIN_POST);
  expect(response.status).toBe(302);
}

/** KV holds no usable record for the session (nothing, or a record without subject and tokens), and the session id no longer passes. */
async function expectSessionDead(edge: TestEdge, logged: LoggedIn): Promise<void> {
  const record = await bindings.SESSIONS.get<Record<string, unknown>>(logged.kvKey, 'json');
  expect(record === null || (record.sub === undefined && record.tokens === undefined), JSON.stringify(record)).toBe(true);
  const me = await edge.fetch('/auth/me', { headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` }, jar: false });
  expect(me.status).toBe(401);
}

describe('after a logout in the same isolate', () => {
  it('the idle clock of a request that loaded the session before the logout does not write it back (touchSession)', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider);
    const config = loadConfig(edge.env);
    const held = (await loadSession(config, edge.env.SESSIONS, logged.sessionId))!;
    expect(held.keyHash).toBe(logged.keyHash);

    await logOut(edge);
    await touchSession(config, edge.env.SESSIONS, held);

    await expectSessionDead(edge, logged);
  });
});
