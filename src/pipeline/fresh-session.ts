/**
 * The session's tokens for the request in hand, refreshed first when due
 * (`REFRESH_BEFORE_EXPIRY`), with each refresh the request needed counted as
 * one `METRICS` point: the gateway's API routes and `freshToken` both come
 * through here.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { recordRefresh } from '../metrics.ts';
import type { FreshSession } from '../session/refresh-grant.ts';
import { ensureFreshTokens } from '../session/refresher.ts';
import type { ActiveSession } from '../session/store.ts';

/**
 * Returns `session`'s tokens, refreshed when due; a new session object in the
 * answer means a refresh happened (this request's, or one it joined).
 */
export async function freshSessionTokens(c: Context<AppEnv>, session: ActiveSession): Promise<FreshSession> {
  let fresh: FreshSession;
  try {
    fresh = await ensureFreshTokens(c.get('config'), c.env, session);
  } catch (error) {
    recordRefresh(c, error);
    throw error;
  }
  if (fresh.session !== session) recordRefresh(c);
  return fresh;
}
