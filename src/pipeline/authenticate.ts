/**
 * Step 1 of the request pipeline: who is asking. A verified bearer token (API
 * routes) or the session cookie becomes a {@link Principal}; a state-changing
 * or WebSocket request authenticated by the cookie alone is refused when it
 * comes from another site.
 */
import type { Context } from 'hono';
import { bearerTokenFrom, verifyBearer, type VerifiedBearer } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { IdentityClaimsError, readIdentity, type Identity } from '../identity/claims.ts';
import type { Route } from '../gateway/route.ts';
import { logEvent } from '../log.ts';
import { isCrossSiteRequest, isStateChanging } from '../request-kind.ts';
import { loadRequestSession } from '../session/middleware.ts';
import type { ActiveSession } from '../session/store.ts';
import { freshSessionTokens } from './fresh-session.ts';
import type { Principal } from './principal.ts';

/**
 * Authenticates a gateway request for `route`: a bearer token on an API route
 * when one is sent (verified against `KENNI_API_SCOPE`), else the session.
 * `undefined` when neither is there. On an API route the session's tokens are
 * refreshed here when due, so the rules and the identity headers read the
 * claims a refreshed ID token brought, on this very request.
 */
export async function authenticate(c: Context<AppEnv>, route: Route): Promise<Principal | undefined> {
  if (route.kind === 'api') {
    const bearer = await authenticateBearer(c, c.get('config').apiScopes);
    if (bearer) return bearer;
  }
  const principal = await authenticateSession(c);
  if (!principal?.session || route.kind !== 'api') return principal;
  const { session } = await freshSessionTokens(c, principal.session);
  if (session === principal.session) return principal;
  c.set('session', session);
  return sessionPrincipal(session);
}

/**
 * The request's verified bearer token with `scopes`, or `undefined` without an
 * `Authorization: Bearer` header. Throws `bearer_malformed`, `bearer_invalid` or
 * `insufficient_scope` (each logged as `bearer_rejected`).
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export async function authenticateBearer(
  c: Context<AppEnv>,
  scopes: readonly string[],
): Promise<Principal | undefined> {
  const token = bearerTokenFrom(c.req.raw);
  if (!token) return undefined;
  const verified = await verifyBearer(c.get('config'), token, scopes, new URL(c.req.url).pathname);
  c.set('bearer', verified);
  return bearerPrincipal(verified);
}

/**
 * The request's session as a principal, or `undefined` without one. Throws
 * `cross_site_request` (403) for a state-changing or WebSocket request from
 * another site: the cookie alone must not let another site act as the user.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#fetch-metadata-headers
 */
export async function authenticateSession(c: Context<AppEnv>): Promise<Principal | undefined> {
  const session = await loadRequestSession(c);
  if (!session) return undefined;
  // A WebSocket upgrade is a GET, but it opens a two-way channel as the user: refuse it cross-site too.
  if ((isStateChanging(c.req.method) || isWebSocketUpgrade(c.req.raw)) && isCrossSiteRequest(c.req.raw)) {
    logEvent('request_refused', {
      reason: 'cross_site_request',
      path: new URL(c.req.url).pathname,
      method: c.req.method,
      session: session.keyHash.slice(0, 12),
    });
    throw new AppError(
      'cross_site_request',
      'Cross-site requests authenticated only by the session cookie are refused.',
      { reason: 'cross_site_request' },
    );
  }
  return sessionPrincipal(session);
}

/**
 * `session` as a principal: its subject, claims and granted scopes as the
 * record holds them now (after a refresh: the refreshed ones). A record
 * written before scopes were kept has none, so a `scope` condition fails closed.
 */
export function sessionPrincipal(session: ActiveSession): Principal {
  const { sub, claims, auth_time, scope } = session.record;
  return {
    subject: sub,
    claims,
    auth: 'session',
    scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
    session,
    ...delegation(sessionIdentity(session), auth_time),
  };
}

/**
 * The session's identity. The callback refuses a malformed actor, so only a
 * record written before that check can fail here: it ends as `session_ended`
 * (sign in again), never used without its actor.
 */
export function sessionIdentity(session: ActiveSession): Identity {
  try {
    return readIdentity(session.record.claims, session.record.sub);
  } catch (error) {
    if (!(error instanceof IdentityClaimsError)) throw error;
    throw new AppError('session_ended', 'Please sign in again.', { reason: error.reason, retryHref: '/auth/login' });
  }
}

function bearerPrincipal({ claims, scopes, identity }: VerifiedBearer): Principal {
  const subject = String(claims.sub ?? claims.client_id ?? '');
  const authTime = typeof claims.auth_time === 'number' ? claims.auth_time : undefined;
  return {
    subject,
    claims,
    auth: 'bearer',
    scopes: [...scopes],
    ...delegation(identity, authTime),
  };
}

/** The principal's actor, delegation type and authentication time, each only when there is one. */
function delegation(identity: Identity, authTime: number | undefined): Partial<Principal> {
  return {
    ...(identity.actor ? { actor: identity.actor } : {}),
    ...(identity.delegation_type ? { delegationType: identity.delegation_type } : {}),
    ...(authTime !== undefined ? { authTime } : {}),
  };
}

function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket';
}
