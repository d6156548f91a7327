/**
 * The request's session: reads the session cookie, loads the session (isolate
 * cache, else one KV read), and moves the idle clock when due.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
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

/** The path and query to come back to after login. */
export function loginUrlFor(url: URL): string {
  return `/auth/login?return_to=${encodeURIComponent(`${url.pathname}${url.search}`)}`;
}
