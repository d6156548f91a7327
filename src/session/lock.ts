/**
 * Optional strict refresh coordination: with a Durable Object bound as
 * `SESSION_LOCKS`, every refresh of one session runs inside that session's
 * object, one at a time, across all isolates and locations. The object
 * remembers the last rotation, so a refresh token is never sent twice, and
 * remembers that the session ended, so no refresh queued behind it writes back.
 * @see https://developers.cloudflare.com/durable-objects/
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig, type Env, type KenniEdgeConfig } from '../config.ts';
import { AppError, sessionEnded, type ErrorCode } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { refreshSession, type FreshSession } from './refresh-grant.ts';
import { isStoredRecord, openStoredRecord, toStoredRecord } from './record-storage.ts';
import { sha256Hex } from './seal.ts';
import {
  adoptSession,
  deleteSession,
  forgetSession,
  readSessionTokens,
  type ActiveSession,
  type SessionRecord,
} from './store.ts';

interface LastRotation {
  /** sha256 of the refresh token that was used (never the token itself). */
  usedRefreshTokenHash: string;
  /** The record written after that rotation. */
  record: SessionRecord;
}

/** {@link LastRotation} as the object's storage holds it: the record in its KV form (identity claims sealed). */
interface StoredRotation {
  usedRefreshTokenHash: string;
  record: unknown;
}

/** A failure inside the lock, as plain data: RPC carries it intact, and the caller rebuilds the {@link AppError}. */
export interface LockFailure {
  code: ErrorCode;
  message: string;
  reason: string;
  oauthError?: string;
  retryHref?: string;
}

/** What {@link SessionLock.refresh} answers: the record to use, or why there is none. */
export type LockRefreshResult = { ok: true; record: SessionRecord } | { ok: false; error: LockFailure };

/**
 * One object per session (named by the session's key hash) that serialises its
 * refreshes. Export it from the Worker's main module and bind it as `SESSION_LOCKS`.
 * It stores only what KV stores (tokens and identity claims sealed) and forgets it when the session ends.
 * @example
 * // src/index.ts of your Worker, with [[durable_objects.bindings]] name = "SESSION_LOCKS" in wrangler.toml
 * export { SessionLock } from 'kenni-edge';
 */
export class SessionLock extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();
  private last: LastRotation | undefined;
  private ended = false;

  #grants = 0;

  /** Refresh grants this object sent (tests read it through `runInDurableObject`). */
  get stats(): { readonly grants: number } {
    return { grants: this.#grants };
  }

  /**
   * Refreshes the session's tokens unless this object already rotated the same
   * refresh token. Answers the session record to use, or a known failure as
   * data (an error thrown across RPC would lose its class); anything else throws.
   */
  async refresh(session: ActiveSession, force: boolean): Promise<LockRefreshResult> {
    const run = this.queue.then(() => this.refreshOnce(session, force));
    this.queue = run.catch(() => undefined);
    try {
      return { ok: true, record: await run };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      // Absent fields travel as `undefined`: the AppError rebuilt from them reads them the same.
      const { code, message, reason, oauthError, retryHref } = error;
      return { ok: false, error: { code, message, reason, oauthError, retryHref } };
    }
  }

  /**
   * Marks the session ended (logout, revocation): refreshes queued or arriving
   * later answer `session_ended`, and one finishing now deletes the record again.
   * Not queued behind refreshes, so it takes effect at once.
   */
  async end(expiresAt: number): Promise<void> {
    this.ended = true;
    this.last = undefined;
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.put('ended', true);
    await this.ctx.storage.setAlarm((Math.max(expiresAt, nowSeconds()) + 60) * 1000);
  }

  /**
   * Claims this object's name once (a logout token's `jti`): true the first
   * time, false ever after, until `expiresAt` (seconds) has passed. Strict
   * across isolates and locations, where KV is only eventually consistent.
   */
  async claimOnce(expiresAt: number): Promise<boolean> {
    if ((await this.ctx.storage.get<boolean>('claimed')) === true) return false;
    await this.ctx.storage.put('claimed', true);
    await this.ctx.storage.setAlarm(Math.max(expiresAt, nowSeconds() + 60) * 1000);
    return true;
  }

  private async refreshOnce(session: ActiveSession, force: boolean): Promise<SessionRecord> {
    const config: KenniEdgeConfig = loadConfig(this.env);
    this.ended ||= (await this.ctx.storage.get<boolean>('ended')) === true;
    if (this.ended) throw sessionEnded('logged_out');
    const tokens = await readSessionTokens(config, session);
    if (!tokens) throw sessionEnded('tokens_unreadable');
    const usedHash = await sha256Hex(tokens.refresh_token ?? '');
    this.last ??= await this.loadLast(config, session.keyHash);
    const last = this.last;
    if (last && last.record.created_at === session.record.created_at) {
      // Another request already rotated this refresh token: hand out its result instead of reusing the token.
      if (last.usedRefreshTokenHash === usedHash) return last.record;
      if (
        !force &&
        last.record.access_token_expires_at - nowSeconds() > config.refreshBeforeExpiry &&
        last.record.tokens !== session.record.tokens
      )
        return last.record;
    }
    this.#grants++;
    const result = await refreshSession(config, this.env, session, tokens);
    if (this.ended) {
      // The session ended while the grant was at the provider: whatever KV showed the write, the end wins.
      await deleteSession(config, this.env.SESSIONS, result.session);
      throw sessionEnded('logged_out');
    }
    this.last = { usedRefreshTokenHash: usedHash, record: result.session.record };
    await this.ctx.storage.put('last', {
      usedRefreshTokenHash: usedHash,
      record: toStoredRecord(result.session.record),
    } satisfies StoredRotation);
    // Forget everything once the session could no longer be used anyway.
    await this.ctx.storage.setAlarm((result.session.record.expires_at + 60) * 1000);
    return result.session.record;
  }

  /** The last rotation from storage (after the object was evicted), its record opened as a KV read opens it. */
  private async loadLast(config: KenniEdgeConfig, keyHash: string): Promise<LastRotation | undefined> {
    const saved = await this.ctx.storage.get<StoredRotation>('last');
    if (!saved || !isStoredRecord(saved.record)) return undefined;
    const opened = await openStoredRecord(config, keyHash, saved.record);
    return opened && { usedRefreshTokenHash: saved.usedRefreshTokenHash, record: opened.record };
  }

  /** Drops what this object remembers once the session is over. */
  override async alarm(): Promise<void> {
    this.last = undefined;
    this.ended = false;
    await this.ctx.storage.deleteAll();
  }
}

/**
 * Tells the session's {@link SessionLock} that the session ended, so a refresh
 * queued behind the lock does not write it back.
 */
export async function endSessionLock(env: Env, session: Pick<ActiveSession, 'keyHash' | 'record'>): Promise<void> {
  const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
  await namespace.get(namespace.idFromName(session.keyHash)).end(session.record.expires_at);
}

/**
 * Runs the refresh inside the session's {@link SessionLock}, then adopts the
 * result in this isolate (so the next requests here do not ask the lock again).
 */
export async function refreshThroughLock(
  config: KenniEdgeConfig,
  env: Env,
  session: ActiveSession,
  force: boolean,
): Promise<FreshSession> {
  const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
  const stub = namespace.get(namespace.idFromName(session.keyHash));
  const result = (await stub.refresh(session, force)) as LockRefreshResult;
  if (!result.ok) {
    const { code, message, ...options } = result.error;
    // The object may run in another isolate: this one must stop serving its cached copy too.
    if (code === 'session_ended') forgetSession(config, session);
    throw new AppError(code, message, options);
  }
  const updated = adoptSession(config, { id: session.id, keyHash: session.keyHash, record: result.record });
  const tokens = await readSessionTokens(config, updated);
  if (!tokens) throw sessionEnded('tokens_unreadable');
  return { session: updated, tokens };
}
