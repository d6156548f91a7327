/**
 * `GET /auth/me`: who is signed in. The subject, identity claims and session
 * expiry as JSON, with the actor and `delegation_type` of a delegated sign-in
 * and `auth_time`; never a token of any kind.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { sessionIdentity } from '../pipeline/authenticate.ts';
import { requireRequestSession } from '../session/middleware.ts';

/** Handles `GET /auth/me`. */
export async function handleMe(c: Context<AppEnv>): Promise<Response> {
  const session = await requireRequestSession(c);
  const { sub, claims, expires_at, last_seen_at, auth_time } = session.record;
  const idleEndsAt = last_seen_at + c.get('config').sessionIdleTtl;
  // `sub` and `claims` are the represented party; the actor is named apart, never as the subject.
  const { actor, delegation_type } = sessionIdentity(session);
  const body = {
    sub,
    claims,
    expires_at: Math.min(expires_at, idleEndsAt),
    ...(actor ? { actor } : {}),
    ...(delegation_type ? { delegation_type } : {}),
    ...(auth_time !== undefined ? { auth_time } : {}),
  };
  return c.json(body, 200, { 'cache-control': 'no-store' });
}
