/**
 * `POST /auth/backchannel-logout`: the provider tells the edge, server to
 * server, that a provider session ended. A completely valid logout token ends
 * the edge sessions with its `sid`, or, without one, every session of its
 * `sub`; anything else is 400 `invalid_request` and touches no session. No
 * cross-site check: the caller is the provider, not a browser, and nothing but
 * a valid logout token is ever accepted.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { loadProvider } from '../provider/index.ts';
import { endSessionsBySid, endSessionsOfSubject } from '../session/indexes.ts';
import { createReplayGuard } from '../session/replay-guard.ts';
import { readTypedBody, waitUntilOf } from './session-person.ts';

/** A logout token is a few KB; the form around it is no bigger. */
const MAX_BODY_BYTES = 32_768;

/** Handles `POST /auth/backchannel-logout`. */
export async function handleBackchannelLogout(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  try {
    const logoutToken = await readLogoutToken(c.req.raw);
    const verified = await loadProvider(config).verifyLogoutToken(logoutToken, createReplayGuard(c.env));
    const options = { waitUntil: waitUntilOf(c), reason: 'backchannel_logout' };
    const ended =
      verified.sid !== undefined
        ? await endSessionsBySid(config, c.env, verified.sid, options)
        : await endSessionsOfSubject(config, c.env, verified.sub!, options);
    // Counts only: a sub or sid would tie the line to a person.
    logEvent('backchannel_logout', { n_sessions: ended, detail: verified.sid !== undefined ? 'by_sid' : 'by_sub' });
    return c.body(null, 200, { 'cache-control': 'no-store' });
  } catch (error) {
    if (error instanceof AppError)
      logEvent('logout_token_rejected', {
        reason: error.reason,
        status: error.status,
        path: '/auth/backchannel-logout',
      });
    throw error;
  }
}

/** The one `logout_token` of a form body; anything else is `logout_token_invalid`. */
async function readLogoutToken(request: Request): Promise<string> {
  const body = await readTypedBody(request, 'application/x-www-form-urlencoded', MAX_BODY_BYTES);
  if (body === undefined)
    throw new AppError('logout_token_invalid', 'The body must be a form of at most 32 KB.', {
      oauthError: 'invalid_request',
      reason: 'bad_body',
    });
  const tokens = new URLSearchParams(body).getAll('logout_token');
  if (tokens.length !== 1 || !tokens[0])
    throw new AppError('logout_token_invalid', 'The body must carry exactly one logout_token.', {
      oauthError: 'invalid_request',
      reason: 'missing_token',
    });
  return tokens[0];
}
