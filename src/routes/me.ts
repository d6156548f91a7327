/**
 * `GET /auth/me`: who is signed in. The subject, identity claims and session
 * expiry as JSON; never a token of any kind.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { loadRequestSession } from '../session/middleware.ts';

/** Handles `GET /auth/me`. */
export async function handleMe(c: Context<AppEnv>): Promise<Response> {
  const session = await loadRequestSession(c);
  if (!session) throw new AppError('session_required', 'Not signed in.', { reason: 'no_session' });
  const { sub, claims, expires_at, last_seen_at } = session.record;
  const idleEndsAt = last_seen_at + c.get('config').sessionIdleTtl;
  return c.json({ sub, claims, expires_at: Math.min(expires_at, idleEndsAt) }, 200, { 'cache-control': 'no-store' });
}
