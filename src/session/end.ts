/**
 * Ending a session so that logout wins everywhere: the KV record is deleted
 * (every later session write re-reads it and refuses), the session's
 * `SessionLock` (when bound) stops refreshes queued behind it, and the refresh
 * token is revoked at the provider, so a refresh racing in another isolate gets
 * `invalid_grant` instead of new tokens.
 * @see https://www.rfc-editor.org/rfc/rfc7009
 */
import type { Env, KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { loadProvider, type ProviderTokens } from '../provider/index.ts';
import { endSessionLock } from './lock.ts';
import type { EndingSession } from './session-types.ts';
import { deleteSession } from './store.ts';

/**
 * Ends `session` here, in its lock and at the provider. The local end is
 * awaited; the revocation is best-effort (bounded by PROVIDER_TIMEOUT) and runs
 * through `waitUntil` when given, so a provider that is down never keeps a
 * logout from succeeding.
 */
export async function endSession(
  config: KenniEdgeConfig,
  env: Env,
  session: EndingSession,
  tokens: ProviderTokens | undefined,
  waitUntil?: (work: Promise<unknown>) => void,
): Promise<void> {
  const short = session.keyHash.slice(0, 12);
  await deleteSession(config, env.SESSIONS, session);
  if (env.SESSION_LOCKS) {
    try {
      await endSessionLock(env, session);
    } catch {
      // The deleted record already stops the lock's writes (it re-reads KV); the object only makes it sooner.
      logEvent('revocation_failed', { reason: 'session_lock_unreachable', session: short });
    }
  }
  const refreshToken = tokens?.refresh_token;
  if (!refreshToken) return;
  const revocation = revokeAtProvider(config, refreshToken, short);
  if (waitUntil) waitUntil(revocation);
  else await revocation;
}

async function revokeAtProvider(config: KenniEdgeConfig, refreshToken: string, session: string): Promise<void> {
  try {
    if (await loadProvider(config).revokeRefreshToken(refreshToken)) logEvent('token_revoked', { session });
  } catch (error) {
    logEvent('revocation_failed', { reason: error instanceof AppError ? error.reason : 'internal_error', session });
  }
}
