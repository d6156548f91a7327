/**
 * `POST /auth/refresh`: refreshes the session's tokens now. `invalid_grant` ends
 * the session (401); the provider unreachable keeps it (502).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { requireSameSiteSession } from '../session/middleware.ts';
import { ensureFreshTokens } from '../session/refresher.ts';

/** Handles `POST /auth/refresh`. */
export async function handleRefresh(c: Context<AppEnv>): Promise<Response> {
  const session = await requireSameSiteSession(
    c,
    'cross_site_refresh',
    'Cross-site requests may not refresh the session.',
  );
  const { tokens } = await ensureFreshTokens(c.get('config'), c.env, session, { force: true });
  return c.json({ expires_at: tokens.expires_at }, 200, { 'cache-control': 'no-store' });
}
