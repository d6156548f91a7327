/**
 * Keeps a session's access token fresh without logging anyone out by our own
 * race: a refresh is due when the access token expires within
 * `REFRESH_BEFORE_EXPIRY` seconds, and one refresh per session per isolate runs
 * at a time (later requests share it). How the refresh is carried out (from
 * here, or through the session's Durable Object lock) is handed in.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import type { Env, KenniEdgeConfig } from '../config.ts';
import { AppError, sessionEnded } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { singleFlight } from '../util/single-flight.ts';
import type { FreshSession, RefreshCoordinator } from './refresh-grant.ts';
import { deleteSession, readSessionTokens, type ActiveSession } from './store.ts';

/** One isolate's refreshes for one configuration: the coordinator it was handed and the refreshes under way. */
export class SessionRefresher {
  readonly #config: KenniEdgeConfig;
  readonly #env: Env;
  readonly #refresh: RefreshCoordinator;
  readonly #inFlight: (keyHash: string, run: () => Promise<FreshSession>) => Promise<FreshSession>;

  constructor(config: KenniEdgeConfig, env: Env, refresh: RefreshCoordinator) {
    this.#config = config;
    this.#env = env;
    this.#refresh = refresh;
    // A waiter restarts a refresh only when it is stalled far beyond what discovery, the grant and KV can take.
    this.#inFlight = singleFlight<string, FreshSession>({
      waitMs: 4 * config.providerTimeoutMs,
      // A waiter that gives up keeps the session: the provider (or the run it waited on) is what failed.
      timeoutError: () =>
        new AppError('provider_unreachable', 'The session could not be refreshed in time. Please try again shortly.', {
          reason: 'refresh_stalled',
        }),
    });
  }

  /**
   * Returns the session's tokens, refreshing first when the access token
   * expires within `REFRESH_BEFORE_EXPIRY` seconds (or always, with `force`).
   * Throws `session_ended` (401) when the provider says the grant is gone, and
   * `provider_unreachable` (502) while keeping the session when it is down.
   */
  async ensureFresh(session: ActiveSession, options: { force?: boolean } = {}): Promise<FreshSession> {
    const config = this.#config;
    const tokens = await readSessionTokens(config, session);
    if (!tokens) {
      await deleteSession(config, this.#env.SESSIONS, session);
      throw sessionEnded('tokens_unreadable');
    }
    if (!options.force && tokens.expires_at - nowSeconds() > config.refreshBeforeExpiry) return { session, tokens };
    return this.#inFlight(session.keyHash, () =>
      this.#refresh(config, this.#env, session, options.force === true, tokens),
    );
  }
}
