/**
 * Session lifetime across refreshes (issue #5): SESSION_TTL is an absolute end
 * that no refresh moves; SESSION_IDLE_TTL ends a session nobody used for that
 * long, a refresh counting as use. The KV record expires with the session:
 * its expiration is min(absolute end, idle end).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import {
  API_FETCH,
  SESSION_COOKIE,
  bindings,
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

/**
 * Seconds until KV drops the key, as `list()` shows it. KV counts
 * `expirationTtl` on its own (real) clock, so this is measured against real time.
 */
async function kvSecondsLeft(kvKey: string): Promise<number | undefined> {
  const { keys } = await bindings.SESSIONS.list({ prefix: kvKey });
  const expiration = keys.find((key) => key.name === kvKey)?.expiration;
  return expiration === undefined ? undefined : expiration - Math.floor(vi.getRealSystemTime() / 1000);
}

describe('session lifetime across refreshes', () => {
  it('keeps the absolute end (SESSION_TTL) however often the tokens are refreshed, and KV expires the record with it', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { SESSION_TTL: '1000', SESSION_IDLE_TTL: '400' }));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    const absoluteEnd = clock.start / 1000 + 1000;
    expect((await readRecord(logged.kvKey))!.expires_at).toBe(absoluteEnd);
    expect(await kvSecondsLeft(logged.kvKey)).toBeCloseTo(400, -1); // the idle end comes first
    await provider.serveToken(
      await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          refreshReply(provider, { access_token: `AT${index + 2}`, refresh_token: `R${index + 2}`, expires_in: 120 }),
        ),
      ),
    );

    // Active every 90 s: each request finds 30 s left on the token and refreshes it.
    for (let t = 90; t <= 900; t += 90) {
      clock.at(t);
      expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
      const record = (await readRecord(logged.kvKey))!;
      expect(record.expires_at).toBe(absoluteEnd);
      expect(record.last_seen_at).toBe(clock.start / 1000 + t);
    }
    expect(await refreshGrants(provider)).toHaveLength(10);
    expect(await tokensInKv(logged)).toMatchObject({ access_token: 'AT11', refresh_token: 'R11' });
    // At t=900 the absolute end (100 s away) comes before the idle end (400 s away).
    expect(await kvSecondsLeft(logged.kvKey)).toBeCloseTo(100, -1);
    const me = await edge.fetch('/auth/me', { headers: API_FETCH });
    expect(((await me.json()) as { expires_at: number }).expires_at).toBe(absoluteEnd);

    clock.at(999);
    expect((await edge.fetch('/auth/me', { headers: API_FETCH })).status).toBe(200);

    clock.at(1000);
    const ended = await edge.fetch('/api/x', { headers: API_FETCH });
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: 'session_required' });
    expect(ended.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=;`))).toBe(true);
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(await refreshGrants(provider)).toHaveLength(10);
  });

  it('ends a session idle for SESSION_IDLE_TTL after its last refresh, and KV expires the record at the idle end', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { SESSION_IDLE_TTL: '400' }));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', expires_in: 120 }),
    );

    clock.at(90);
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    expect(await refreshGrants(provider)).toHaveLength(1);
    expect((await readRecord(logged.kvKey))!.last_seen_at).toBe(clock.start / 1000 + 90);
    expect(await kvSecondsLeft(logged.kvKey)).toBeCloseTo(400, -1);

    // The refresh at 90 counted as use: the session outlives 400 s after login…
    clock.at(489);
    const me = await edge.fetch('/auth/me', { headers: API_FETCH });
    expect(me.status).toBe(200);
    // …and this request moved the idle clock again (due after a quarter of the idle limit).
    expect((await readRecord(logged.kvKey))!.last_seen_at).toBe(clock.start / 1000 + 489);

    // Nothing for 400 s: over.
    clock.at(889);
    const ended = await edge.fetch('/api/x', { headers: API_FETCH });
    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: 'session_required' });
    expect(await readRecord(logged.kvKey)).toBeNull();
    expect(await refreshGrants(provider)).toHaveLength(1);
  });

  it('ends an idle session right at the idle end counted from the last refresh', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { SESSION_IDLE_TTL: '400' }));
    const logged = await logIn(edge, provider, { expiresIn: 120 });
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2', expires_in: 120 }),
    );

    clock.at(90);
    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);

    clock.at(490);
    const me = await edge.fetch('/auth/me', { headers: API_FETCH });
    expect(me.status).toBe(401);
    expect(await readRecord(logged.kvKey)).toBeNull();
  });
});
