/**
 * Sessions in Workers KV: `session:<hex sha256 of the id>` holds one JSON record
 * (subject, protocol claims, expiry times, and the identity claims sealed with
 * the tokens: see `record-storage.ts`) written with `expirationTtl`.
 * A short in-isolate cache keeps steady-state requests free of KV reads and
 * decryption; it lives no longer than KV's own propagation window and is dropped
 * on logout in this isolate.
 *
 * Logout wins: every write of an existing session (refresh result, idle clock)
 * first re-reads KV and refuses when the record is gone, so no isolate that
 * still holds a session that ended elsewhere can write it back.
 */
import type { KenniEdgeConfig } from '../config.ts';
import { sessionEnded } from '../errors.ts';
import { requestedScope } from '../provider/client.ts';
import type { ProviderTokens } from '../provider/index.ts';
import { nowSeconds } from '../time.ts';
import { sessionIsolateState } from './isolate-state.ts';
import { identityClaims, protocolClaims, refreshedClaims } from './record-claims.ts';
import { deleteSessionIndexes, writeSessionIndexes } from './index-keys.ts';
import type { ActiveSession, SessionRecord } from './session-types.ts';
import { describeUserAgent } from './user-agent.ts';
import { openSessionTokens, sealSessionContents } from './record-tokens.ts';
import { openStoredRecord, readStored, recordToEnd, toStoredRecord } from './record-storage.ts';
import { randomId, sha256Hex } from './seal.ts';

export type { ActiveSession, SessionRecord } from './session-types.ts';
type StoredRecord = Parameters<typeof openStoredRecord>[2];
export { identityClaims } from './record-claims.ts';
export { unsealRecordTokens } from './record-tokens.ts';

/** The hash a session id is stored under (`session:<hash>`): the raw id cannot be recovered from a KV listing. */
export const sessionKeyHash: (id: string) => Promise<string> = sha256Hex;

/**
 * Creates and stores a brand-new session (a fresh 256-bit id every login). The
 * granted scope is the token response's `scope`, else the scope the login asked for (RFC 6749 §5.1).
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#renew-the-session-id-after-any-privilege-level-change
 */
export async function createSession(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  params: { sub: string; claims: Record<string, unknown>; tokens: ProviderTokens; userAgent?: string | null },
): Promise<ActiveSession> {
  const id = randomId(32);
  const keyHash = await sessionKeyHash(id);
  const now = nowSeconds();
  const claims = identityClaims(params.claims);
  const record: SessionRecord = {
    version: 2,
    sub: params.sub,
    claims,
    ...protocolClaims(params.claims),
    scope: params.tokens.scope ?? requestedScope(config),
    tokens: await sealSessionContents(config, keyHash, params.tokens, claims),
    access_token_expires_at: params.tokens.expires_at,
    created_at: now,
    expires_at: now + config.sessionTtl,
    last_seen_at: now,
    user_agent: describeUserAgent(params.userAgent),
  };
  const session: ActiveSession = { id, keyHash, record };
  // A brand-new id has nothing to re-read: the only write that needs no guard.
  const isolate = sessionIsolateState(config);
  await isolate.inWriteOrder(keyHash, () => putRecord(config, kv, session));
  isolate.remember(session, params.tokens);
  return session;
}

/**
 * Loads the session for a cookie value: from the isolate cache, else one KV read.
 * Ended sessions (absolute or idle limit) are deleted and yield `undefined`.
 */
export async function loadSession(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  id: string | undefined,
): Promise<ActiveSession | undefined> {
  if (!id || id.length < 43 || id.length > 128 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const now = nowSeconds();
  const isolate = sessionIsolateState(config);
  let session = isolate.sessions.get(id)?.session;
  // Ended here without its cookie (revoked, back-channel): a map lookup, no KV read.
  if (session && isolate.ended.has(session.keyHash)) {
    isolate.sessions.delete(id);
    return undefined;
  }
  if (!session) {
    const keyHash = await sessionKeyHash(id);
    if (isolate.ended.has(keyHash)) return undefined;
    const stored = await readStored(kv, keyHash);
    if (!stored) return undefined;
    // A record no configured secret opens (SESSION_SECRET changed without SESSION_SECRET_PREVIOUS)
    // is no session: anonymous, not a 500 later. It stays in KV, so restoring the secret brings it back.
    const opened = await openStoredRecord(config, keyHash, stored);
    if (!opened) return undefined;
    session = { id, keyHash, record: opened.record };
    isolate.remember(session, opened.tokens);
  }
  if (now >= session.record.expires_at || now >= session.record.last_seen_at + config.sessionIdleTtl) {
    await deleteSession(config, kv, session);
    return undefined;
  }
  return session;
}

/** The session's tokens, decrypted once per isolate cache entry. */
export async function readSessionTokens(
  config: KenniEdgeConfig,
  session: ActiveSession,
): Promise<ProviderTokens | undefined> {
  const cached = sessionIsolateState(config).sessions.get(session.id);
  if (cached && cached.session.record === session.record && cached.tokens) return cached.tokens;
  const tokens = await openSessionTokens(config, session.record, session.keyHash);
  if (tokens && cached && cached.session.record === session.record) cached.tokens = tokens;
  return tokens;
}

/**
 * Replaces the session's tokens (after a refresh) and writes the record to KV
 * before they are used: the refreshed ID token's claims replace the old ones,
 * and the response's `scope` the granted scope (omitted: unchanged, RFC 6749 §6).
 * Throws `session_ended` (401) instead of writing when the session ended
 * meanwhile (here or in another isolate): logout wins.
 */
export async function saveSessionTokens(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  session: ActiveSession,
  tokens: ProviderTokens,
  claims?: Record<string, unknown>,
): Promise<ActiveSession> {
  const now = nowSeconds();
  const changed = claims ? refreshedClaims(session.record, claims) : {};
  const record: SessionRecord = {
    ...session.record,
    ...changed,
    ...(tokens.scope !== undefined ? { scope: tokens.scope } : {}),
    tokens: await sealSessionContents(config, session.keyHash, tokens, changed.claims ?? session.record.claims),
    access_token_expires_at: tokens.expires_at,
    refreshed_at: now,
    last_seen_at: now,
  };
  const updated: ActiveSession = { id: session.id, keyHash: session.keyHash, record };
  if (!(await saveSessionRecord(config, kv, updated))) {
    throw sessionEnded('logged_out');
  }
  sessionIsolateState(config).remember(updated, tokens);
  return updated;
}

/** Takes a record written elsewhere (the refresh lock) as this isolate's current copy of the session. */
export function adoptSession(config: KenniEdgeConfig, session: ActiveSession): ActiveSession {
  const isolate = sessionIsolateState(config);
  if (!isolate.ended.has(session.keyHash)) isolate.remember(session, undefined);
  return session;
}

/** Re-reads the record from KV, bypassing the isolate cache (used when another isolate may have refreshed). */
export async function reloadSession(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  session: ActiveSession,
): Promise<ActiveSession | undefined> {
  const stored = await readStored(kv, session.keyHash);
  const opened = stored && (await openStoredRecord(config, session.keyHash, stored));
  if (!opened) return undefined;
  const reloaded: ActiveSession = { id: session.id, keyHash: session.keyHash, record: opened.record };
  sessionIsolateState(config).remember(reloaded, opened.tokens);
  return reloaded;
}

/**
 * Moves the idle clock when it is due (at most once an hour, sooner for short
 * idle limits): the only write a steady-state request can cause.
 */
export function idleClockWriteDue(config: KenniEdgeConfig, session: ActiveSession): boolean {
  const interval = Math.min(3600, Math.floor(config.sessionIdleTtl / 4));
  return nowSeconds() - session.record.last_seen_at >= interval;
}

/**
 * Writes the moved idle clock (call through `waitUntil`). It runs after any
 * write of the same session already under way in this isolate, moves the clock
 * on the newer of this isolate's copy and the record KV holds (a refresh here or
 * elsewhere may have rotated the tokens meanwhile), and never revives a session
 * that ended, here or (as KV shows it) elsewhere.
 */
export function touchSession(config: KenniEdgeConfig, kv: KVNamespace, session: ActiveSession): Promise<void> {
  const isolate = sessionIsolateState(config);
  return isolate.inWriteOrder(session.keyHash, async () => {
    const current = isolate.sessions.get(session.id);
    const latest = current?.session ?? session;
    let openedTokens: ProviderTokens | undefined;
    const written = await writeIfLive(config, kv, latest, async (stored) => {
      // Another isolate may have rotated the tokens since this copy was read: never write older tokens back.
      const newer =
        (stored.refreshed_at ?? stored.created_at) > (latest.record.refreshed_at ?? latest.record.created_at)
          ? await openStoredRecord(config, latest.keyHash, stored)
          : undefined;
      openedTokens = newer?.tokens;
      return { ...latest, record: { ...(newer?.record ?? latest.record), last_seen_at: nowSeconds() } };
    });
    if (written)
      isolate.remember(
        written,
        written.record.tokens === current?.session.record.tokens ? current?.tokens : openedTokens,
      );
  });
}

/**
 * Deletes the session everywhere this isolate can reach: KV (record and
 * indexes; without `record` it is read first) and the isolate cache. Every later
 * write of the session, in any isolate, re-reads KV first and refuses a record
 * that is gone (see `writeIfLive`), so a delete is final.
 */
export function deleteSession(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  session: { readonly id?: string; readonly keyHash: string; readonly record?: SessionRecord },
): Promise<void> {
  const isolate = sessionIsolateState(config);
  isolate.forget(session);
  return isolate.inWriteOrder(session.keyHash, async () => {
    const key = `session:${session.keyHash}`;
    const stored = session.record ? undefined : await readStored(kv, session.keyHash);
    const record = session.record ?? (stored && (await recordToEnd(config, session.keyHash, stored)).record);
    await Promise.all([kv.delete(key), record ? deleteSessionIndexes(config, kv, session.keyHash, record) : undefined]);
  });
}

/** Forgets an ended session in this isolate only (no KV write), e.g. when the refresh lock reports it ended. */
export function forgetSession(
  config: KenniEdgeConfig,
  session: { readonly id?: string; readonly keyHash: string },
): void {
  sessionIsolateState(config).forget(session);
}

/** Writes a session record after any write of the same session already under way in this isolate; false when the session ended. */
async function saveSessionRecord(config: KenniEdgeConfig, kv: KVNamespace, session: ActiveSession): Promise<boolean> {
  return (
    (await sessionIsolateState(config).inWriteOrder(session.keyHash, () =>
      writeIfLive(config, kv, session, () => session),
    )) !== undefined
  );
}

/**
 * Writes a record only while the session is live: not ended in this isolate,
 * and KV (read again, off the hot path: writes are rare) still holds its record,
 * which `build` receives. Otherwise forgets the session here and returns undefined.
 */
async function writeIfLive(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  session: Pick<ActiveSession, 'id' | 'keyHash'>,
  build: (stored: StoredRecord) => ActiveSession | Promise<ActiveSession>,
): Promise<ActiveSession | undefined> {
  const stored = sessionIsolateState(config).ended.has(session.keyHash)
    ? undefined
    : await readStored(kv, session.keyHash);
  if (!stored) {
    forgetSession(config, session);
    return undefined;
  }
  const written = await build(stored);
  await putRecord(config, kv, written);
  return written;
}

async function putRecord(config: KenniEdgeConfig, kv: KVNamespace, session: ActiveSession): Promise<void> {
  const record = session.record;
  const endsAt = Math.min(record.expires_at, record.last_seen_at + config.sessionIdleTtl);
  // KV refuses an expirationTtl under 60 s; the record's own times still end it on time.
  const expirationTtl = Math.max(60, endsAt - nowSeconds());
  // The indexes live exactly as long as the record, and move with it (login, refresh, idle clock).
  await Promise.all([
    kv.put(`session:${session.keyHash}`, JSON.stringify(toStoredRecord(record)), { expirationTtl }),
    writeSessionIndexes(config, kv, session.keyHash, record, expirationTtl),
  ]);
}
