/**
 * The request's session: reads the session cookie, loads the session (isolate
 * cache, else one KV read), and moves the idle clock when due.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { isCrossSiteRequest } from '../request-kind.ts';
import { readCookie, SESSION_COOKIE } from './cookies.ts';
import { idleClockWriteDue, loadSession, touchSession, type ActiveSession } from './store.ts';

/**
 * Loads the request's session into `c.var.session` (or `undefined`). At most
 * one KV read; a KV write only when the idle clock is due (through `waitUntil`).
 * @example
 * const session = await loadRequestSession(c);
 * if (session) console.log(session.record.sub);
 */
export async function loadRequestSession(c: Context<AppEnv>): Promise<ActiveSession | undefined> {
  const config = c.get('config');
  const id = readCookie(c.req.header('cookie'), SESSION_COOKIE);
  const session = await loadSession(config, c.env.SESSIONS, id);
  c.set('session', session);
  if (id !== undefined && !session) c.set('staleSessionCookie', true);
  if (session && idleClockWriteDue(config, session)) {
    const write = touchSession(config, c.env.SESSIONS, session);
    try {
      c.executionCtx.waitUntil(write);
    } catch {
      await write; // no execution context (e.g. app.request in a script)
    }
  }
  return session;
}

/**
 * The session an `/auth/*` route needs: 401 `session_required` without one.
 * @example
 * const session = await requireRequestSession(c);
 */
export async function requireRequestSession(c: Context<AppEnv>): Promise<ActiveSession> {
  const session = await loadRequestSession(c);
  if (!session) throw new AppError('session_required', 'Not signed in.', { reason: 'no_session' });
  return session;
}

/**
 * The session a state-changing `/auth/*` route needs: a cross-site request is
 * refused first (403, logged with `reason`), then one without a session (401).
 * @example
 * const session = await requireSameSiteSession(c, 'cross_site_refresh', 'Cross-site requests may not refresh the session.');
 */
export async function requireSameSiteSession(
  c: Context<AppEnv>,
  reason: string,
  message: string,
): Promise<ActiveSession> {
  if (isCrossSiteRequest(c.req.raw)) {
    logEvent('request_refused', { reason, path: new URL(c.req.url).pathname, method: c.req.method });
    throw new AppError('cross_site_request', message);
  }
  return requireRequestSession(c);
}

/** The path and query to come back to after login. */
export function loginUrlFor(url: URL): string {
  return `/auth/login?return_to=${encodeURIComponent(`${url.pathname}${url.search}`)}`;
}
