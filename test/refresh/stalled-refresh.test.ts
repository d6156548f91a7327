/**
 * A shared refresh whose first request went away (jose#355 on Workers: a
 * promise started by request A and awaited by request B can stay pending for
 * ever once A is cancelled). The refresher is handed its coordinator, so the
 * test hands it one whose first run never settles, as A's would, and checks
 * that B, waiting on the same refresh, settles anyway.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { RefreshCoordinator } from '../../src/session/refresh-grant.ts';
import { SessionRefresher } from '../../src/session/refresh.ts';
import { loadSession } from '../../src/session/store.ts';
import { createTestEdge } from '../support/edge.ts';
import { createRefreshProvider, logIn, scriptedBindings } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

async function heldSession() {
  const provider = await createRefreshProvider();
  const edge = createTestEdge(scriptedBindings(provider));
  const logged = await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1' });
  const config = loadConfig(edge.env);
  const session = (await loadSession(config, edge.env.SESSIONS, logged.sessionId))!;
  return { edge, config, session };
}

describe('a shared refresh whose first request was cancelled', () => {
  it('lets a request waiting on it take over after the wait and get fresh tokens', async () => {
    const { edge, config, session } = await heldSession();
    let runs = 0;
    const coordinator: RefreshCoordinator = async (_config, _env, current, _force, tokens) => {
      runs++;
      // The first run belongs to the cancelled request: it never settles.
      if (runs === 1) return new Promise(() => undefined);
      return { session: current, tokens: { ...tokens, access_token: `AT-run-${runs}` } };
    };
    const refresher = new SessionRefresher(config, edge.env, coordinator);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    void refresher.ensureFresh(session, { force: true }).catch(() => undefined); // request A, then cancelled
    const waiting = refresher.ensureFresh(session, { force: true }); // request B
    await vi.advanceTimersByTimeAsync(4 * config.providerTimeoutMs + 1);

    // B started the second run itself (A, still here in this test, may start a third: a cancelled A would not).
    await expect(waiting).resolves.toMatchObject({ tokens: { access_token: 'AT-run-2' } });
  });

  it('settles the waiting request with 502 provider_unreachable (session kept) when every run stalls', async () => {
    const { edge, config, session } = await heldSession();
    const stalled: RefreshCoordinator = () => new Promise(() => undefined);
    const refresher = new SessionRefresher(config, edge.env, stalled);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });

    void refresher.ensureFresh(session, { force: true }).catch(() => undefined);
    const waiting = refresher.ensureFresh(session, { force: true });
    const settled = expect(waiting).rejects.toMatchObject({
      code: 'provider_unreachable',
      status: 502,
      reason: 'refresh_stalled',
    });
    await vi.advanceTimersByTimeAsync(2 * 4 * config.providerTimeoutMs + 1);
    await settled;
  });
});
