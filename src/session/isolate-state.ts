/**
 * What one isolate remembers about sessions, in one instance per
 * configuration (a fresh `env` is a fresh isolate, which is how tests play
 * "another isolate"): recently used sessions, sessions ended here lately, and
 * the order of this isolate's writes of each session.
 */
import type { KenniEdgeConfig } from '../config.ts';
import type { ProviderTokens } from '../provider/index.ts';
import { TtlMap } from '../util/ttl-map.ts';
import type { ActiveSession } from './session-types.ts';

/** Seconds a session record may be served from the isolate without reading KV (KV propagates within ~60 s). */
export const SESSION_ISOLATE_CACHE_SECONDS = 30;
/** Seconds a session ended here is remembered as ended, whatever a delayed write or a stale KV read says. */
const ENDED_MEMORY_SECONDS = 300;
const MAX_ENTRIES = 5000;

/** A session as this isolate last saw it, with its tokens once decrypted. */
export interface CachedSession {
  session: ActiveSession;
  tokens: ProviderTokens | undefined;
}

/** One isolate's session state for one configuration. */
export class SessionIsolateState {
  /** Sessions by id, served without a KV read for {@link SESSION_ISOLATE_CACHE_SECONDS}. */
  readonly sessions = new TtlMap<string, CachedSession>({
    maxEntries: MAX_ENTRIES,
    ttlSeconds: SESSION_ISOLATE_CACHE_SECONDS,
  });
  /** Key hashes of sessions ended here lately: a delayed write must not bring them back, even before KV shows the delete. */
  readonly ended = new TtlMap<string, true>({ maxEntries: MAX_ENTRIES, ttlSeconds: ENDED_MEMORY_SECONDS });
  /** The last write of each session in this isolate; later writes wait for it, so they land in order. */
  readonly #pendingWrites = new Map<string, Promise<void>>();

  /** Caches `session` (and its decrypted tokens, when known) as the newest entry. */
  remember(session: ActiveSession, tokens: ProviderTokens | undefined): void {
    this.sessions.set(session.id, { session, tokens });
  }

  /**
   * Forgets a session and remembers that it ended. Without the raw id (a session
   * ended from elsewhere: revoked, back-channel) the cached copy stays, but
   * `loadSession` checks `ended` before serving it.
   */
  forget(session: { readonly id?: string; readonly keyHash: string }): void {
    if (session.id !== undefined) this.sessions.delete(session.id);
    this.ended.set(session.keyHash, true);
  }

  /** Runs `write` after any write of the same session already under way in this isolate. */
  inWriteOrder<T>(keyHash: string, write: () => Promise<T>): Promise<T> {
    const previous: Promise<unknown> = this.#pendingWrites.get(keyHash) ?? Promise.resolve();
    const next = previous.then(write, write);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#pendingWrites.set(keyHash, settled);
    void settled.then(() => {
      if (this.#pendingWrites.get(keyHash) === settled) this.#pendingWrites.delete(keyHash);
    });
    return next;
  }
}

const states = new WeakMap<KenniEdgeConfig, SessionIsolateState>();

/** The isolate's session state for `config`, created on first use. */
export function sessionIsolateState(config: KenniEdgeConfig): SessionIsolateState {
  let state = states.get(config);
  if (!state) {
    state = new SessionIsolateState();
    states.set(config, state);
  }
  return state;
}
