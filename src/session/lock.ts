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
import { AppError } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { sha256Hex } from './seal.ts';
import { refreshSession, type FreshSession } from './refresh.ts';
import { adoptSession, deleteSession, forgetSession, readSessionTokens, type ActiveSession, type SessionRecord } from './store.ts';

interface LastRotation {
  /** sha256 of the refresh token that was used (never the token itself). */
  usedRefreshTokenHash: string;
  /** The record written after that rotation: its tokens are sealed, as in KV. */
  record: SessionRecord;
}

/**
 * One object per session (named by the session's key hash) that serialises its
 * refreshes. Export it from the Worker's main module and bind it as `SESSION_LOCKS`.
 * It stores only what KV stores (sealed tokens) and forgets it when the session ends.
 */
export class SessionLock extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();
  private last: LastRotation | undefined;
  private ended = false;

  /**
   * Refreshes the session's tokens unless this object already rotated the same
   * refresh token; returns the session record to use.
   */
  async refresh(session: ActiveSession, force: boolean): Promise<SessionRecord> {
    const run = this.queue.then(() => this.refreshOnce(session, force));
    this.queue = run.catch(() => undefined);
    return run;
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

  private async refreshOnce(session: ActiveSession, force: boolean): Promise<SessionRecord> {
    const config: KenniEdgeConfig = loadConfig(this.env);
    this.ended ||= (await this.ctx.storage.get<boolean>('ended')) === true;
    if (this.ended) throw endedError();
    const tokens = await readSessionTokens(config, session);
    if (!tokens) throw new AppError('session_ended', 'The session could not be read; please sign in again.', { reason: 'tokens_unreadable' });
    const usedHash = await sha256Hex(tokens.refresh_token ?? '');
    this.last ??= await this.ctx.storage.get<LastRotation>('last');
    const last = this.last;
    if (last && last.record.created_at === session.record.created_at) {
      // Another request already rotated this refresh token: hand out its result instead of reusing the token.
      if (last.usedRefreshTokenHash === usedHash) return last.record;
      if (!force && last.record.access_token_expires_at - nowSeconds() > config.refreshBeforeExpiry && last.record.tokens !== session.record.tokens) return last.record;
    }
    const result = await refreshSession(config, this.env, session, tokens);
    if (this.ended) {
      // The session ended while the grant was at the provider: whatever KV showed the write, the end wins.
      await deleteSession(this.env.SESSIONS, result.session);
      throw endedError();
    }
    this.last = { usedRefreshTokenHash: usedHash, record: result.session.record };
    await this.ctx.storage.put('last', this.last);
    // Forget everything once the session could no longer be used anyway.
    await this.ctx.storage.setAlarm((result.session.record.expires_at + 60) * 1000);
    return result.session.record;
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
export async function endSessionLock(env: Env, session: ActiveSession): Promise<void> {
  const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
  await namespace.get(namespace.idFromName(session.keyHash)).end(session.record.expires_at);
}

function endedError(): AppError {
  return new AppError('session_ended', 'The session has ended; please sign in again.', { reason: 'logged_out', retryHref: '/auth/login' });
}

/**
 * Runs the refresh inside the session's {@link SessionLock}, then adopts the
 * result in this isolate (so the next requests here do not ask the lock again).
 */
export async function refreshThroughLock(config: KenniEdgeConfig, env: Env, session: ActiveSession, force: boolean): Promise<FreshSession> {
  const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
  const stub = namespace.get(namespace.idFromName(session.keyHash));
  let record: SessionRecord;
  try {
    record = (await stub.refresh(session, force)) as SessionRecord;
  } catch (error) {
    const revived = reviveAppError(error);
    // The object may run in another isolate: this one must stop serving its cached copy too.
    if (revived instanceof AppError && revived.code === 'session_ended') forgetSession(session);
    throw revived;
  }
  const updated = adoptSession({ id: session.id, keyHash: session.keyHash, record });
  const tokens = await readSessionTokens(config, updated);
  if (!tokens) throw new AppError('session_ended', 'The session could not be read; please sign in again.', { reason: 'tokens_unreadable' });
  return { session: updated, tokens };
}

/**
 * An error thrown inside the Durable Object arrives over RPC as a plain `Error`
 * that keeps its own properties but not its class; without this, `session_ended`
 * and `provider_unreachable` from the lock would become 500 `internal_error`.
 */
function reviveAppError(error: unknown): unknown {
  if (error instanceof AppError || !(error instanceof Error)) return error;
  const remote = error as Error & Partial<Pick<AppError, 'code' | 'status' | 'oauthError' | 'headers' | 'scope' | 'retryHref' | 'reason'>>;
  if (typeof remote.code !== 'string' || typeof remote.status !== 'number') return error;
  return new AppError(remote.code, remote.message, {
    ...(remote.oauthError !== undefined ? { oauthError: remote.oauthError } : {}),
    ...(remote.headers ? { headers: remote.headers } : {}),
    ...(remote.scope !== undefined ? { scope: remote.scope } : {}),
    ...(remote.retryHref !== undefined ? { retryHref: remote.retryHref } : {}),
    ...(remote.reason !== undefined ? { reason: remote.reason } : {}),
    cause: error,
  });
}
