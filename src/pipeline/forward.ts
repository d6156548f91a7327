/**
 * Step 3 of the request pipeline: send the request on as the principal.
 * Identity headers and the signed assertion (`aud` = the route's origin), and
 * the `Authorization` the route needs: the verified bearer header as sent, or
 * the session's access token, refreshed first when it is about to expire.
 */
import type { Context } from 'hono';
import { bearerTokenFrom } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { createIdentityAssertion, type AssertedIdentity } from '../gateway/assertion.ts';
import { encodeIdentityValue, forwardToOrigin, IDENTITY_HEADERS } from '../gateway/forward.ts';
import type { Route } from '../gateway/route.ts';
import { kennitalaKind } from '../identity/kennitala.ts';
import { logEvent } from '../log.ts';
import { freshSessionTokens } from './fresh-session.ts';
import type { Principal } from './principal.ts';

/**
 * Forwards the request to `route.origin` as `principal` (identity headers,
 * assertion, `Authorization`), or without identity when there is none (public
 * routes keep the client's own `Authorization`; a CORS preflight goes bare).
 */
export async function forward(
  c: Context<AppEnv>,
  principal: Principal | undefined,
  route: Route,
  options: { preflight?: boolean } = {},
): Promise<Response> {
  const origin = route.origin;
  if (!origin) throw new AppError('origin_not_configured', 'Nothing is served here: ORIGIN_URL is not set.');
  const config = c.get('config');
  // The token first: a session that ended at the provider is refused before anything is signed for it.
  const authorization = principal ? await upstreamAuthorization(c, principal, route) : undefined;
  const identity = principal ? await identityHeaders(c, principal, origin) : {};
  try {
    return await forwardToOrigin(c.req.raw, {
      origin,
      timeoutMs: config.originTimeoutMs,
      identity,
      ...(authorization ? { authorization } : {}),
      ...(options.preflight ? { preflight: true } : principal ? {} : { keepClientAuthorization: true }),
    });
  } catch (error) {
    if (error instanceof AppError)
      logEvent('origin_failed', { reason: error.code, status: error.status, path: new URL(c.req.url).pathname });
    throw error;
  }
}

/**
 * The access token to send upstream as `principal`: the bearer token as
 * verified, or the session's, refreshed first when it expires within
 * `REFRESH_BEFORE_EXPIRY` (the session in `c.var.session` is updated then).
 */
export async function freshAccessToken(c: Context<AppEnv>, principal: Principal): Promise<string> {
  if (!principal.session) return bearerTokenFrom(c.req.raw)!;
  const fresh = await freshSessionTokens(c, principal.session);
  c.set('session', fresh.session);
  return fresh.tokens.access_token;
}

/** API routes carry a token: the verified header as sent, or the session's fresh access token. Pages carry none. */
async function upstreamAuthorization(
  c: Context<AppEnv>,
  principal: Principal,
  route: Route,
): Promise<string | undefined> {
  if (principal.auth === 'bearer') return c.req.header('authorization')!; // the header just verified, as sent
  if (route.kind !== 'api') return undefined;
  return `Bearer ${await freshAccessToken(c, principal)}`;
}

/** What the assertion and the identity headers say about `principal`. */
function assertedIdentity(principal: Principal): AssertedIdentity {
  const { claims } = principal;
  return {
    sub: principal.subject,
    ...(typeof claims.national_id === 'string' ? { national_id: claims.national_id } : {}),
    ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
    auth: principal.auth,
    ...(principal.auth === 'bearer' ? { scope: principal.scopes.join(' ') } : {}),
    ...(principal.actor ? { act: { ...principal.actor } } : {}),
    ...(principal.actor && principal.delegationType ? { delegation_type: principal.delegationType } : {}),
    ...(principal.authTime !== undefined ? { auth_time: principal.authTime } : {}),
  };
}

async function identityHeaders(c: Context<AppEnv>, principal: Principal, origin: URL): Promise<Record<string, string>> {
  const identity = assertedIdentity(principal);
  const headers: Record<string, string> = {};
  headers[IDENTITY_HEADERS.sub] = encodeIdentityValue(identity.sub);
  headers[IDENTITY_HEADERS.auth] = identity.auth;
  if (identity.national_id) headers[IDENTITY_HEADERS.nationalId] = encodeIdentityValue(identity.national_id);
  // Percent-encoded UTF-8: header values are bytes, and "Þórður" must arrive intact.
  if (identity.name) headers[IDENTITY_HEADERS.name] = encodeURIComponent(identity.name);
  if (identity.scope) headers[IDENTITY_HEADERS.scope] = encodeIdentityValue(identity.scope);
  const kind = kennitalaKind(identity.national_id);
  if (kind) headers[IDENTITY_HEADERS.subjectKind] = kind;
  // The actor has headers of its own and only on delegated requests: it never stands in the subject's.
  const { act } = identity;
  if (act?.national_id) headers[IDENTITY_HEADERS.actorNationalId] = encodeIdentityValue(act.national_id);
  if (act?.name) headers[IDENTITY_HEADERS.actorName] = encodeURIComponent(act.name);
  if (act?.sub) headers[IDENTITY_HEADERS.actorSub] = encodeIdentityValue(act.sub);
  if (identity.delegation_type)
    headers[IDENTITY_HEADERS.delegationType] = encodeIdentityValue(identity.delegation_type);
  const assertion = await createIdentityAssertion(c.get('config'), {
    edgeOrigin: new URL(c.req.url).origin,
    audience: origin.origin,
    identity,
  });
  if (assertion) headers[IDENTITY_HEADERS.assertion] = assertion;
  return headers;
}
