/**
 * `POST /auth/refresh`: refreshes the session's tokens now. `invalid_grant` ends
 * the session (401); the provider unreachable keeps it (502).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { isCrossSiteRequest } from '../request-kind.ts';
import { loadRequestSession } from '../session/middleware.ts';
import { ensureFreshTokens } from '../session/refresher.ts';

/** Handles `POST /auth/refresh`. */
export async function handleRefresh(c: Context<AppEnv>): Promise<Response> {
  if (isCrossSiteRequest(c.req.raw)) {
    logEvent('request_refused', { reason: 'cross_site_refresh', path: '/auth/refresh', method: 'POST' });
    throw new AppError('cross_site_request', 'Cross-site requests may not refresh the session.');
  }
  const session = await loadRequestSession(c);
  if (!session) throw new AppError('session_required', 'Not signed in.', { reason: 'no_session' });
  const { tokens } = await ensureFreshTokens(c.get('config'), c.env, session, { force: true });
  return c.json({ expires_at: tokens.expires_at }, 200, { 'cache-control': 'no-store' });
}
