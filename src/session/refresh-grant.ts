/**
 * One refresh grant for a session, sent from here: new tokens written to KV
 * before they are used, and on `invalid_grant` one re-read of the record in
 * case another isolate already rotated the tokens. A session that ended
 * meanwhile is never written back (see `saveSessionTokens`). The Durable
 * Object lock runs the same grant while it holds a session's lock.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import type { Env, KenniEdgeConfig } from '../config.ts';
import { AppError, sessionEnded } from '../errors.ts';
import { logEvent } from '../log.ts';
import { loadProvider, type ProviderTokens } from '../provider/index.ts';
import { nowSeconds } from '../time.ts';
import { deleteSession, readSessionTokens, reloadSession, saveSessionTokens, type ActiveSession } from './store.ts';

/** A session together with a usable access token. */
export interface FreshSession {
  session: ActiveSession;
  tokens: ProviderTokens;
}

/**
 * How a due refresh is carried out: {@link refreshDirectly} from this isolate,
 * or through the session's Durable Object lock (`refreshThroughLock` in
 * `lock.ts`). Chosen once per isolate and handed to the session refresher.
 */
export type RefreshCoordinator = (
  config: KenniEdgeConfig,
  env: Env,
  session: ActiveSession,
  force: boolean,
  tokens: ProviderTokens,
) => Promise<FreshSession>;

/** The coordinator without a lock: one grant from this isolate ({@link refreshSession}). */
export const refreshDirectly: RefreshCoordinator = (config, env, session, _force, tokens) =>
  refreshSession(config, env, session, tokens);

/**
 * One refresh grant for the session, with the re-read on `invalid_grant`.
 * Throws `session_ended` (401) when the provider says the grant is gone.
 */
export async function refreshSession(
  config: KenniEdgeConfig,
  env: Env,
  session: ActiveSession,
  tokens: ProviderTokens,
): Promise<FreshSession> {
  const provider = loadProvider(config);
  await provider.discovery(); // a provider that is down fails here, before a refresh is attempted
  try {
    const refreshed = await provider.refresh(tokens, session.record.sub);
    const updated = await saveSessionTokens(config, env.SESSIONS, session, refreshed.tokens, refreshed.claims).catch(
      async (error: unknown) => {
        // The session ended while the grant was at the provider: the tokens it just issued must not outlive it.
        if (error instanceof AppError && error.code === 'session_ended' && refreshed.tokens.refresh_token) {
          await provider.revokeRefreshToken(refreshed.tokens.refresh_token).catch(() => false);
        }
        throw error;
      },
    );
    logEvent('refreshed', { session: session.keyHash.slice(0, 12) });
    return { session: updated, tokens: refreshed.tokens };
  } catch (error) {
    if (error instanceof AppError && (error.code === 'invalid_grant' || error.code === 'id_token_invalid')) {
      const rotatedElsewhere =
        error.code === 'invalid_grant' ? await tokensRotatedElsewhere(config, env, session, tokens) : undefined;
      if (rotatedElsewhere) return rotatedElsewhere;
      await deleteSession(config, env.SESSIONS, session);
      logEvent('refresh_failed', { reason: error.code, session: session.keyHash.slice(0, 12) });
      logEvent('session_ended', { reason: error.code, session: session.keyHash.slice(0, 12) });
      throw sessionEnded(error.code);
    }
    logEvent('refresh_failed', {
      reason: error instanceof AppError ? error.reason : 'internal_error',
      session: session.keyHash.slice(0, 12),
    });
    throw error;
  }
}

/** After `invalid_grant`: did another isolate already rotate the refresh token? Then use its result. */
async function tokensRotatedElsewhere(
  config: KenniEdgeConfig,
  env: Env,
  session: ActiveSession,
  used: ProviderTokens,
): Promise<FreshSession | undefined> {
  const reloaded = await reloadSession(config, env.SESSIONS, session);
  if (!reloaded) return undefined;
  const tokens = await readSessionTokens(config, reloaded);
  if (!tokens || tokens.refresh_token === used.refresh_token || tokens.expires_at <= nowSeconds()) return undefined;
  return { session: reloaded, tokens };
}
