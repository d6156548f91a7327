/**
 * Session control: ending and listing a user's sessions through the KV indexes
 * (`index-keys.ts`), never on the hot path. Every ending goes through
 * `endSession` (KV delete, `SessionLock` end, refresh-token revocation), so
 * logout wins everywhere, and marks the session ended in this isolate, so it
 * stops passing here at once; other isolates see it within KV propagation plus
 * their session cache (`SESSION_ISOLATE_CACHE_SECONDS`).
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html
 */
import type { Env, KenniEdgeConfig } from '../config-types.ts';
import { logEvent } from '../log.ts';
import { endSession } from './end.ts';
import {
  listIndex,
  nationalIdPrefixes,
  sessionHandle,
  sidPrefix,
  subjectPrefix,
  type IndexEntry,
} from './index-keys.ts';
import { sessionIsolateState } from './isolate-state.ts';
import { readStored, recordToEnd } from './record-storage.ts';

/** Options for ending several sessions. */
export interface EndSessionsOptions {
  /** A key hash to keep (the caller's own session, for "sign out my other sessions"). */
  except?: string;
  /** Runs the provider revocations in the background (the request's `waitUntil`). */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Only sessions where this user is the person at the keyboard (not a subject someone else acts for). */
  ownOnly?: boolean;
  /** A stable reason code for the log line of each ended session (default `revoked`). */
  reason?: string;
}

/** One session as `GET /auth/sessions` lists it. */
export interface SessionSummary {
  /** A handle derived from the session's key hash: neither the key hash nor the cookie. */
  id: string;
  created_at: number;
  last_seen_at: number;
  user_agent: string;
  /** True for the session of the request that asked. */
  current: boolean;
}

/**
 * Ends every session of a subject (by `sub`, as subject or as the acting
 * person); returns how many live sessions were ended.
 * @example
 * const ended = await endSessionsOfSubject(config, env, 'user-123', { except: session.keyHash });
 */
export async function endSessionsOfSubject(
  config: KenniEdgeConfig,
  env: Env,
  sub: string,
  options: EndSessionsOptions = {},
): Promise<number> {
  return endEntries(config, env, await listIndex(env.SESSIONS, await subjectPrefix(sub)), options);
}

/**
 * Ends every session the provider session `sid` covers (one provider session
 * may cover several edge sessions); returns how many were ended.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#LogoutToken
 */
export async function endSessionsBySid(
  config: KenniEdgeConfig,
  env: Env,
  sid: string,
  options: EndSessionsOptions = {},
): Promise<number> {
  return endEntries(config, env, await listIndex(env.SESSIONS, await sidPrefix(sid)), options);
}

/**
 * Ends every session whose subject or acting person has this kennitala;
 * returns how many were ended. The index holds only a keyed MAC of it.
 */
export async function endSessionsOfNationalId(
  config: KenniEdgeConfig,
  env: Env,
  nationalId: string,
  options: EndSessionsOptions = {},
): Promise<number> {
  const prefixes = await nationalIdPrefixes(config, nationalId);
  const entries = (await Promise.all(prefixes.map((prefix) => listIndex(env.SESSIONS, prefix)))).flat();
  const unique = [...new Map(entries.map((entry) => [entry.keyHash, entry])).values()];
  return endEntries(config, env, unique, options);
}

/**
 * Ends the one session of `sub` (where `sub` is the person at the keyboard)
 * whose handle is `handle`; false when there is none.
 */
export async function endSessionByHandle(
  config: KenniEdgeConfig,
  env: Env,
  sub: string,
  handle: string,
  options: EndSessionsOptions = {},
): Promise<boolean> {
  for (const entry of await ownEntries(env, sub, options.except)) {
    if ((await sessionHandle(config, entry.keyHash)) === handle)
      return (await endEntries(config, env, [entry], { ...options, except: undefined })) === 1;
  }
  return false;
}

/**
 * The sessions where `sub` is the person at the keyboard, newest use first,
 * from index metadata only (no record read); `currentKeyHash` marks the caller's.
 */
export async function listSessions(
  config: KenniEdgeConfig,
  env: Env,
  sub: string,
  currentKeyHash: string,
): Promise<SessionSummary[]> {
  const ended = sessionIsolateState(config).ended;
  const entries = (await listIndex(env.SESSIONS, await subjectPrefix(sub))).filter(
    (entry) => (entry.metadata?.self === true || entry.keyHash === currentKeyHash) && !ended.has(entry.keyHash),
  );
  const summaries = await Promise.all(
    entries.map(async ({ keyHash, metadata }) => ({
      id: await sessionHandle(config, keyHash),
      created_at: metadata?.created_at ?? 0,
      last_seen_at: metadata?.last_seen_at ?? 0,
      user_agent: metadata?.user_agent ?? '',
      current: keyHash === currentKeyHash,
    })),
  );
  return summaries.sort((a, b) => b.last_seen_at - a.last_seen_at || b.created_at - a.created_at);
}

/** The `user:` entries of `sub` where `sub` is the person at the keyboard, minus `except`. */
async function ownEntries(env: Env, sub: string, except: string | undefined): Promise<IndexEntry[]> {
  return (await listIndex(env.SESSIONS, await subjectPrefix(sub))).filter(
    (entry) => entry.metadata?.self === true && entry.keyHash !== except,
  );
}

/** Ends each listed session (in parallel); returns how many had a live record. */
async function endEntries(
  config: KenniEdgeConfig,
  env: Env,
  entries: IndexEntry[],
  options: EndSessionsOptions,
): Promise<number> {
  const chosen = entries.filter(
    (entry) => entry.keyHash !== options.except && (!options.ownOnly || entry.metadata?.self === true),
  );
  const ended = await Promise.all(chosen.map((entry) => endByKeyHash(config, env, entry, options)));
  return ended.filter(Boolean).length;
}

/**
 * Ends one session known by its key hash: read its record (for the other
 * indexes and the refresh token), then `endSession`. A record already gone
 * still marks the session ended here and removes the index entry that named it.
 */
async function endByKeyHash(
  config: KenniEdgeConfig,
  env: Env,
  entry: IndexEntry,
  options: EndSessionsOptions,
): Promise<boolean> {
  const { keyHash } = entry;
  const stored = await readStored(env.SESSIONS, keyHash);
  if (!stored) {
    sessionIsolateState(config).forget({ keyHash });
    await env.SESSIONS.delete(entry.key);
    return false;
  }
  const { record, tokens } = await recordToEnd(config, keyHash, stored);
  const session = { keyHash, record };
  await endSession(config, env, session, tokens, options.waitUntil);
  logEvent('session_ended', { reason: options.reason ?? 'revoked', session: keyHash.slice(0, 12) });
  return true;
}
