/**
 * `POST /auth/admin/revoke`: ends every session of one user, by `sub` or by
 * national id (kennitala), for an operator's script or a support tool. Needs a
 * bearer access token, verified like any other, that carries
 * `KENNI_ADMIN_SCOPE`; without that setting the route does not exist (404).
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
import type { Context } from 'hono';
import { bearerMissing, bearerTokenFrom, verifyBearer } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { namingResourceMetadata } from '../resource-metadata.ts';
import { endSessionsOfNationalId, endSessionsOfSubject } from '../session/indexes.ts';
import { readTypedBody, waitUntilOf } from './session-person.ts';

const PATH = '/auth/admin/revoke';
const MAX_BODY_BYTES = 4096;
/** A kennitala: exactly ten digits. */
const NATIONAL_ID = /^[0-9]{10}$/;

/** Whom to revoke: exactly one of the two. */
type RevokeTarget = { sub: string } | { national_id: string };

/** Handles `POST /auth/admin/revoke` (404 unless `KENNI_ADMIN_SCOPE` is set). */
export async function handleAdminRevoke(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  if (config.adminScope === undefined) throw new AppError('not_found', 'No such route under /auth/.');
  const adminScope = config.adminScope;
  // Its challenges name the resource metadata, like every bearer route's (RFC 9728 §5.1).
  await namingResourceMetadata(c, async () => {
    const token = bearerTokenFrom(c.req.raw);
    if (!token) throw bearerMissing();
    // The normal access-token verification (issuer, audience, keys or introspection), with the admin scope required.
    await verifyBearer(config, token, [adminScope], PATH);
  });
  const target = await readTarget(c.req.raw);
  const options = { waitUntil: waitUntilOf(c), reason: 'admin_revoked' };
  const revoked =
    'sub' in target
      ? await endSessionsOfSubject(config, c.env, target.sub, options)
      : await endSessionsOfNationalId(config, c.env, target.national_id, options);
  // Counts only: never whom.
  logEvent('admin_revoked', { n_sessions: revoked, detail: 'sub' in target ? 'by_sub' : 'by_national_id' });
  return c.json({ revoked }, 200, { 'cache-control': 'no-store' });
}

/** `{"sub": "…"}` or `{"national_id": "<10 digits>"}`, nothing else. */
async function readTarget(request: Request): Promise<RevokeTarget> {
  const text = await readTypedBody(request, 'application/json', MAX_BODY_BYTES);
  if (text === undefined) throw badRequest('The body must be JSON of at most 4 KB.');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The body is not JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be an object.');
  const keys = Object.keys(body);
  const { sub, national_id } = body as Record<string, unknown>;
  if (keys.length !== 1 || (keys[0] !== 'sub' && keys[0] !== 'national_id'))
    throw badRequest('Name exactly one of "sub" and "national_id".');
  if (keys[0] === 'sub') {
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 1024)
      throw badRequest('"sub" must be a non-empty string.');
    return { sub };
  }
  if (typeof national_id !== 'string' || !NATIONAL_ID.test(national_id))
    throw badRequest('"national_id" must be exactly ten digits.');
  return { national_id };
}

function badRequest(message: string): AppError {
  return new AppError('revoke_request_invalid', message, { oauthError: 'invalid_request', reason: 'bad_body' });
}
