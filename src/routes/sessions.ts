/**
 * Session control for the signed-in person: `GET /auth/sessions` lists their
 * sessions (handles, never key hashes or cookie values) and
 * `POST /auth/sessions/revoke` ends one (`{"id": "…"}`) or every other one
 * (`{"others": true}`), as JSON or a form. An unknown or foreign handle revokes
 * nothing: `{"revoked": 0}`. Revoking is refused cross-site, like every
 * state-changing request.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { endSessionByHandle, endSessionsOfSubject, listSessions } from '../session/indexes.ts';
import { requireRequestSession, requireSameSiteSession } from '../session/middleware.ts';
import { mediaType, personOf, readSmallBody, waitUntilOf } from './session-person.ts';

/** Longest revoke body read (a handle is 32 hex digits). */
const MAX_BODY_BYTES = 1024;

/** Handles `GET /auth/sessions`. */
export async function handleListSessions(c: Context<AppEnv>): Promise<Response> {
  const session = await requireRequestSession(c);
  const person = personOf(session);
  const sessions = await listSessions(c.get('config'), c.env, person ?? session.record.sub, session.keyHash);
  // A delegated sign-in whose actor has no `sub` cannot be told apart from others acting for the same party: only itself.
  const shown = person === undefined ? sessions.filter((summary) => summary.current) : sessions;
  return c.json({ sessions: shown }, 200, { 'cache-control': 'no-store' });
}

/** Handles `POST /auth/sessions/revoke`. */
export async function handleRevokeSessions(c: Context<AppEnv>): Promise<Response> {
  const session = await requireSameSiteSession(c, 'cross_site_revoke', 'Cross-site requests may not revoke sessions.');
  const target = await readRevokeBody(c.req.raw);
  const config = c.get('config');
  const person = personOf(session);
  let revoked = 0;
  if (person !== undefined) {
    const options = { waitUntil: waitUntilOf(c), reason: 'revoked_by_user' };
    revoked =
      target === 'others'
        ? await endSessionsOfSubject(config, c.env, person, { ...options, except: session.keyHash, ownOnly: true })
        : Number(await endSessionByHandle(config, c.env, person, target.id, options));
  }
  logEvent('session_ended', { reason: 'revoke_request', session: session.keyHash.slice(0, 12), n_revoked: revoked });
  return c.json({ revoked }, 200, { 'cache-control': 'no-store' });
}

/** The revoke request: `{"id": "<handle>"}` or `{"others": true}`, as JSON or a form; anything else is 400. */
async function readRevokeBody(request: Request): Promise<{ id: string } | 'others'> {
  const type = mediaType(request);
  const text = await readSmallBody(request, MAX_BODY_BYTES);
  if (text === undefined)
    throw new AppError('session_request_invalid', 'The request body is too large.', {
      oauthError: 'invalid_request',
      reason: 'revoke_body_too_large',
    });
  let fields: Record<string, unknown> | undefined;
  if (type === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
    } catch {
      fields = undefined;
    }
  } else if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(text);
    fields = {
      ...(form.has('id') ? { id: form.get('id') } : {}),
      ...(form.has('others') ? { others: form.get('others') === 'true' || form.get('others') === '1' } : {}),
    };
  }
  const { id, others } = fields ?? {};
  if (typeof id === 'string' && /^[0-9a-f]{32}$/.test(id) && others === undefined) return { id };
  if (others === true && id === undefined) return 'others';
  throw new AppError(
    'session_request_invalid',
    'Send {"id": "<session id from GET /auth/sessions>"} or {"others": true}, as JSON or a form.',
    { oauthError: 'invalid_request', reason: 'revoke_body_invalid' },
  );
}
