/**
 * SESSION_LOCKS (issue #5): with the Durable Object bound (the default
 * bindings of test/wrangler.test.toml), every refresh of one session runs inside that
 * session's object, one at a time, across all isolates, so a refresh token is
 * never sent twice even by separate Worker instances.
 *
 * These run against the real local provider (dev/provider.ts, which rotates
 * refresh tokens and revokes the whole grant when one is used twice), because
 * the Durable Object refreshes with its own bindings, i.e. the real provider.
 * Grants are counted by the session's object itself (`SessionLock.stats`,
 * read through `runInDurableObject`).
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Env } from '../../src/config.ts';
import type { ProviderTokens } from '../../src/provider/index.ts';
import { refreshThroughLock, type SessionLock } from '../../src/session/lock.ts';
import type { ActiveSession, SessionRecord } from '../../src/session/store.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { SAME_ORIGIN_POST_HEADERS, THORDUR } from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';
import {
  API_FETCH,
  CROSS_SITE_NAVIGATION,
  NAVIGATION,
  SAME_ORIGIN_POST,
  SESSION_COOKIE,
  expectSessionCookieCleared,
  openTokens,
  readRecord,
  startClock,
} from './helpers.ts';
import { sha256Hex } from '../../src/session/seal.ts';

const bindings = env as unknown as Env;
const ISSUER = String(bindings.KENNI_ISSUER);
/** The web client's credentials (DEV_CLIENTS.web in dev/provider.ts), for revoking a token the way an admin would. */
const WEB_CLIENT = { id: '@dev-team.is/web', secret: 'dev-web-secret-change-me' };

afterEach(() => {
  vi.useRealTimers();
});

interface RealLogin {
  sessionId: string;
  keyHash: string;
  kvKey: string;
}

async function logInAtRealProvider(edge: TestEdge): Promise<RealLogin> {
  const login = await edge.fetch('/auth/login', { headers: NAVIGATION });
  expect(login.status).toBe(302);
  const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: THORDUR.national_id });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionId = edge.jar.get(SESSION_COOKIE)!;
  const keyHash = await sha256Hex(sessionId);
  return { sessionId, keyHash, kvKey: `session:${keyHash}` };
}

/** The session as a separate Worker instance would load it: its own read of KV. */
async function loadIndependently(logged: RealLogin): Promise<{ session: ActiveSession; tokens: ProviderTokens }> {
  const record = (await bindings.SESSIONS.get<SessionRecord>(logged.kvKey, 'json'))!;
  const tokens = (await openTokens(record, logged.keyHash))!;
  return { session: { id: logged.sessionId, keyHash: logged.keyHash, record }, tokens };
}

/** Revokes a refresh token at the provider (RFC 7009), as an administrator or the user elsewhere might. */
async function revokeAtProvider(token: string): Promise<void> {
  const discovery = (await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json()) as {
    revocation_endpoint: string;
  };
  const response = await fetch(discovery.revocation_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${encodeURIComponent(WEB_CLIENT.id)}:${encodeURIComponent(WEB_CLIENT.secret)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }),
  });
  expect(response.status).toBe(200);
}

/** Sends a refresh grant straight to the provider, as an isolate without the lock would. */
async function refreshAtProvider(refreshToken: string): Promise<{ status: number; error?: string }> {
  const discovery = (await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json()) as {
    token_endpoint: string;
  };
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${encodeURIComponent(WEB_CLIENT.id)}:${encodeURIComponent(WEB_CLIENT.secret)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  const body = (await response.json()) as { error?: string };
  return { status: response.status, ...(body.error ? { error: body.error } : {}) };
}

/** Refresh grants the session's lock object has sent so far. */
async function lockGrants(keyHash: string): Promise<number> {
  const namespace = bindings.SESSION_LOCKS! as DurableObjectNamespace<SessionLock>;
  return runInDurableObject(namespace.get(namespace.idFromName(keyHash)), (lock: SessionLock) => lock.stats.grants);
}

describe('refreshes through SESSION_LOCKS', () => {
  it('sends one grant for concurrent refreshes of one session from separate Worker instances; both get the same new tokens', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const config = loadConfig(edge.env);
    const first = await loadIndependently(logged);
    const second = await loadIndependently(logged);
    expect(first.session).not.toBe(second.session);
    const before = await lockGrants(logged.keyHash);

    const [a, b] = await Promise.all([
      refreshThroughLock(config, edge.env, first.session, false),
      refreshThroughLock(config, edge.env, second.session, false),
    ]);

    expect((await lockGrants(logged.keyHash)) - before).toBe(1);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens.access_token).not.toBe(first.tokens.access_token);
    expect(a.tokens.refresh_token).toMatch(/^[\w-]{20,}$/);
    expect(a.tokens.refresh_token).not.toBe(first.tokens.refresh_token);
    expect(await openTokens((await readRecord(logged.kvKey))!, logged.keyHash)).toEqual(a.tokens);

    // The rotated token works: had the old one been sent twice, the provider would have revoked the grant.
    const later = await refreshThroughLock(config, edge.env, a.session, true);
    expect((await lockGrants(logged.keyHash)) - before).toBe(2);
    expect(later.tokens.refresh_token).not.toBe(a.tokens.refresh_token);
    const viaRoute = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);
    expect(viaRoute.status, await viaRoute.clone().text()).toBe(200);
    expect((await lockGrants(logged.keyHash)) - before).toBe(3);
    expect((await edge.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);
  });

  it('sends one grant for two forced refreshes of one session through the lock; both get the same new tokens', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const config = loadConfig(edge.env);
    const first = await loadIndependently(logged);
    const second = await loadIndependently(logged);
    const before = await lockGrants(logged.keyHash);

    const [a, b] = await Promise.all([
      refreshThroughLock(config, edge.env, first.session, true),
      refreshThroughLock(config, edge.env, second.session, true),
    ]);

    expect((await lockGrants(logged.keyHash)) - before).toBe(1);
    expect(b.tokens).toEqual(a.tokens);
    expect(a.tokens.refresh_token).not.toBe(first.tokens.refresh_token);
    expect(await openTokens((await readRecord(logged.kvKey))!, logged.keyHash)).toEqual(a.tokens);
    // The provider revokes the whole grant when a refresh token is used twice: the session still refreshes.
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);
    expect((await lockGrants(logged.keyHash)) - before).toBe(2);
  });

  it('after a logout, a refresh through the lock from an isolate that still holds the session sends no grant, and the provider refuses the old refresh token', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const config = loadConfig(edge.env);
    const held = await loadIndependently(logged);

    const logout = await edge.fetch('/auth/logout', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });
    expect(logout.status).toBe(302);
    const before = await lockGrants(logged.keyHash);

    await expect(refreshThroughLock(config, edge.env, held.session, true)).rejects.toMatchObject({
      code: 'session_ended',
      status: 401,
    });
    expect((await lockGrants(logged.keyHash)) - before).toBe(0);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(
      (
        await edge.fetch('/auth/me', {
          headers: { ...API_FETCH, cookie: `${SESSION_COOKIE}=${logged.sessionId}` },
          jar: false,
        })
      ).status,
    ).toBe(401);
    // Revoked at the provider: another isolate's refresh without the lock gets invalid_grant, not new tokens.
    expect(await refreshAtProvider(held.tokens.refresh_token!)).toMatchObject({ status: 400, error: 'invalid_grant' });
  });

  it('keeps only sealed tokens and no session id in the Durable Object storage', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const config = loadConfig(edge.env);
    const loaded = await loadIndependently(logged);
    const { tokens } = await refreshThroughLock(config, edge.env, loaded.session, false);

    const namespace = bindings.SESSION_LOCKS!;
    const stored = await runInDurableObject(
      namespace.get(namespace.idFromName(logged.keyHash)),
      async (_instance, state) => JSON.stringify([...(await state.storage.list())]),
    );
    expect(stored).toContain('usedRefreshTokenHash');
    for (const secret of [
      tokens.access_token,
      tokens.refresh_token!,
      tokens.id_token!,
      loaded.tokens.refresh_token!,
      logged.sessionId,
    ]) {
      expect(stored).not.toContain(secret);
    }
  });

  it('hands a stale instance the rotation it missed instead of sending its used refresh token again', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const config = loadConfig(edge.env);
    const stale = await loadIndependently(logged);
    const before = await lockGrants(logged.keyHash);

    const rotated = await refreshThroughLock(config, edge.env, stale.session, false);
    const late = await refreshThroughLock(config, edge.env, stale.session, false);

    expect((await lockGrants(logged.keyHash)) - before).toBe(1);
    expect(late.tokens).toEqual(rotated.tokens);
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);
  });

  it('refreshes once for 10 concurrent API requests near expiry and forwards them all with the new access token', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const loginTokens = (await openTokens((await readRecord(logged.kvKey))!, logged.keyHash))!;
    const clock = startClock();
    const before = await lockGrants(logged.keyHash);

    // The dev provider's access tokens live 300 s: 250 s later, 50 s are left.
    clock.at(loginTokens.expires_at - clock.start / 1000 - 50);
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => edge.fetch('/api/whoami', { headers: API_FETCH })),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    for (const response of responses) expect(await response.json()).toMatchObject({ bearer: true, sub: THORDUR.sub });
    expect((await lockGrants(logged.keyHash)) - before).toBe(1);
    const refreshed = (await openTokens((await readRecord(logged.kvKey))!, logged.keyHash))!;
    expect(refreshed.access_token).not.toBe(loginTokens.access_token);
    expect(refreshed.refresh_token).not.toBe(loginTokens.refresh_token);
  });

  it('ends the session when the provider answers invalid_grant: POST /auth/refresh → 401 session_ended, cookie cleared, KV record gone', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const { tokens } = await loadIndependently(logged);
    await revokeAtProvider(tokens.refresh_token!);

    const response = await edge.fetch('/auth/refresh', SAME_ORIGIN_POST);

    expect(response.status, await response.clone().text()).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expectSessionCookieCleared(response);
    expect(await readRecord(logged.kvKey)).toBeNull();
  });

  it('ends the session on an API path when the provider answers invalid_grant: 401 JSON, cookie cleared', async () => {
    const edge = createTestEdge();
    const logged = await logInAtRealProvider(edge);
    const { tokens } = await loadIndependently(logged);
    await revokeAtProvider(tokens.refresh_token!);
    const clock = startClock();
    clock.at(tokens.expires_at - clock.start / 1000 - 30);

    const response = await edge.fetch('/api/whoami', { headers: API_FETCH });

    expect(response.status, await response.clone().text()).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ code: 'session_ended' });
    expectSessionCookieCleared(response);
    expect(await readRecord(logged.kvKey)).toBeNull();
  });
});
