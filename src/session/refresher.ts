/**
 * The isolate's session refresher, created once per configuration with its
 * coordinator chosen once: through the session's Durable Object lock when
 * `SESSION_LOCKS` is bound, directly otherwise. Keeping the choice here is what
 * lets `refresh.ts` and `lock.ts` stay independent of each other.
 */
import type { Env, KenniEdgeConfig } from '../config.ts';
import { refreshThroughLock } from './lock.ts';
import { refreshDirectly, type FreshSession } from './refresh-grant.ts';
import { SessionRefresher } from './refresh.ts';
import type { ActiveSession } from './store.ts';

const refreshers = new WeakMap<KenniEdgeConfig, SessionRefresher>();

/** The refresher for `config` (parsed from `env`), created on first use; a fresh `env` gets a fresh one. */
export function sessionRefresher(config: KenniEdgeConfig, env: Env): SessionRefresher {
  let refresher = refreshers.get(config);
  if (!refresher) {
    refresher = new SessionRefresher(config, env, env.SESSION_LOCKS ? refreshThroughLock : refreshDirectly);
    refreshers.set(config, refresher);
  }
  return refresher;
}

/**
 * Returns the session's tokens, refreshed first when due (see
 * {@link SessionRefresher.ensureFresh}).
 */
export function ensureFreshTokens(
  config: KenniEdgeConfig,
  env: Env,
  session: ActiveSession,
  options: { force?: boolean } = {},
): Promise<FreshSession> {
  return sessionRefresher(config, env).ensureFresh(session, options);
}
