/**
 * Optional strict refresh coordination: with a Durable Object bound as
 * `SESSION_LOCKS`, every refresh of one session runs inside that session's
 * object, one at a time, across all isolates and locations. The object
 * remembers the last rotation, so a refresh token is never sent twice.
 * @see https://developers.cloudflare.com/durable-objects/
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig, type Env, type KenniEdgeConfig } from '../config.ts';
import type { ProviderTokens } from '../oidc/client.ts';
import { sha256Hex } from './seal.ts';
import { refreshSession, type FreshSession } from './refresh.ts';
import type { ActiveSession } from './store.ts';

interface LastRotation {
  /** sha256 of the refresh token that was used (never the token itself). */
  usedRefreshTokenHash: string;
  result: FreshSession;
}

/**
 * One object per session (named by the session's key hash) that serialises its
 * refreshes. Export it from the Worker's main module and bind it as `SESSION_LOCKS`.
 */
export class SessionLock extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();
  private last: LastRotation | undefined;

  /** Refreshes the session's tokens unless this object already rotated the same refresh token. */
  async refresh(session: ActiveSession, tokens: ProviderTokens, force: boolean): Promise<FreshSession> {
    const run = this.queue.then(() => this.refreshOnce(session, tokens, force));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async refreshOnce(session: ActiveSession, tokens: ProviderTokens, force: boolean): Promise<FreshSession> {
    const usedHash = await sha256Hex(tokens.refresh_token ?? '');
    this.last ??= await this.ctx.storage.get<LastRotation>('last');
    if (this.last && this.last.usedRefreshTokenHash === usedHash) {
      // Another request already rotated this refresh token: hand out its result instead of reusing the token.
      return this.last.result;
    }
    const config: KenniEdgeConfig = loadConfig(this.env);
    if (!force && this.last && this.last.result.tokens.expires_at - Math.floor(Date.now() / 1000) > config.refreshBeforeExpiry && this.last.result.session.record.created_at === session.record.created_at) {
      return this.last.result;
    }
    const result = await refreshSession(config, this.env, session, tokens);
    this.last = { usedRefreshTokenHash: usedHash, result };
    await this.ctx.storage.put('last', this.last);
    // Forget the session's tokens once the session could no longer be used anyway.
    await this.ctx.storage.setAlarm(Date.now() + (config.sessionTtl + 60) * 1000);
    return result;
  }

  /** Drops what this object remembers once the session is over. */
  override async alarm(): Promise<void> {
    this.last = undefined;
    await this.ctx.storage.deleteAll();
  }
}

/** Runs the refresh inside the session's {@link SessionLock}. */
export function refreshThroughLock(config: KenniEdgeConfig, env: Env, session: ActiveSession, tokens: ProviderTokens, force: boolean): Promise<FreshSession> {
  void config;
  const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
  const stub = namespace.get(namespace.idFromName(session.keyHash));
  return stub.refresh(session, tokens, force) as Promise<FreshSession>;
}
