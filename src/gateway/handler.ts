/**
 * The gateway: every path the edge does not own. Public paths are forwarded as
 * they are; API paths need a verified bearer token or a session (never a
 * redirect); everything else needs a session. Authenticated requests carry
 * identity headers and a signed assertion set by the edge.
 */
import type { Context } from 'hono';
import { bearerTokenFrom, verifyBearer } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { isCrossSiteRequest, isPageNavigation, isStateChanging } from '../request-kind.ts';
import { loadRequestSession, loginUrlFor } from '../session/middleware.ts';
import { ensureFreshTokens } from '../session/refresh.ts';
import { createIdentityAssertion, type AssertedIdentity } from './assertion.ts';
import { encodeIdentityValue, forwardToOrigin, IDENTITY_HEADERS, type ForwardOptions } from './forward.ts';
import { classifyPath } from './policy.ts';

/** Handles every request outside `/auth/*`. */
export async function handleGateway(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const url = new URL(c.req.url);
  const classification = classifyPath(config, url.pathname);
  const apiReading = classification.readings.some((reading) => reading.pathClass === 'api');
  c.set('errorFormat', apiReading || !isPageNavigation(c.req.raw) ? 'json' : 'page');
  // Decided before any authentication: an origin that reads the path another way would serve what the edge did not authorise.
  const pathClass = classification.agreed;
  if (pathClass === undefined) {
    logEvent('request_refused', { reason: 'path_ambiguous', detail: classification.reason, path: url.pathname, method: c.req.method });
    throw new AppError('path_ambiguous', 'This path reads differently to different servers (a ";" parameter, a backslash, an encoded "/", "\\" or dot segment, a control character or double encoding), so it is refused.', {
      reason: 'path_ambiguous',
    });
  }
  const origin = config.originUrl;
  if (!origin) throw new AppError('origin_not_configured', 'Nothing is served here: ORIGIN_URL is not set.');
  const forward = (extra: ForwardExtra = {}) => forwardWithIdentity(c, origin, extra);

  // CORS preflights need no credentials, so they go bare (no body, cookies or Authorization); the origin answers them.
  if (isCorsPreflight(c.req.raw)) return forward({ preflight: true });
  // Public paths: the client's own Authorization is the origin's business.
  if (pathClass === 'public') return forward({ keepClientAuthorization: true });

  if (pathClass === 'api') {
    const token = bearerTokenFrom(c.req.raw);
    if (token) {
      const { claims, scopes } = await verifyBearer(config, token, config.apiScopes, url.pathname);
      return forward({
        authorization: c.req.header('authorization')!, // the header just verified, as sent
        identity: {
          sub: String(claims.sub ?? claims.client_id ?? ''),
          ...(typeof claims.national_id === 'string' ? { national_id: claims.national_id } : {}),
          ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
          auth: 'bearer',
          scope: [...scopes].join(' '),
        },
      });
    }
  }

  const session = await loadRequestSession(c);
  if (!session) {
    if (pathClass === 'page' && isPageNavigation(c.req.raw)) return c.redirect(loginUrlFor(url), 302);
    throw new AppError('session_required', pathClass === 'api' ? 'A bearer access token or a session is required.' : 'Sign-in required.', { reason: 'no_session' });
  }
  // A WebSocket upgrade is a GET, but it opens a two-way channel as the user: refuse it cross-site too.
  if ((isStateChanging(c.req.method) || isWebSocketUpgrade(c.req.raw)) && isCrossSiteRequest(c.req.raw)) {
    logEvent('request_refused', { reason: 'cross_site_request', path: url.pathname, method: c.req.method, session: session.keyHash.slice(0, 12) });
    throw new AppError('cross_site_request', 'Cross-site requests authenticated only by the session cookie are refused.', { reason: 'cross_site_request' });
  }
  const identity: AssertedIdentity = {
    sub: session.record.sub,
    ...(typeof session.record.claims.national_id === 'string' ? { national_id: session.record.claims.national_id } : {}),
    ...(typeof session.record.claims.name === 'string' ? { name: session.record.claims.name } : {}),
    auth: 'session',
  };
  if (pathClass === 'api') {
    const { tokens } = await ensureFreshTokens(config, c.env, session);
    return forward({ identity, authorization: `Bearer ${tokens.access_token}` });
  }
  return forward({ identity });
}

function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket';
}

function isCorsPreflight(request: Request): boolean {
  return request.method === 'OPTIONS' && request.headers.has('access-control-request-method') && request.headers.has('origin');
}

/** What a forward adds: identity, the `Authorization` to send, and how to treat the client's own. */
type ForwardExtra = { identity?: AssertedIdentity } & Pick<ForwardOptions, 'authorization' | 'keepClientAuthorization' | 'preflight'>;

async function forwardWithIdentity(c: Context<AppEnv>, origin: URL, extra: ForwardExtra): Promise<Response> {
  const config = c.get('config');
  const headers: Record<string, string> = {};
  const identity = extra.identity;
  if (identity) {
    headers[IDENTITY_HEADERS.sub] = encodeIdentityValue(identity.sub);
    headers[IDENTITY_HEADERS.auth] = identity.auth;
    if (identity.national_id) headers[IDENTITY_HEADERS.nationalId] = encodeIdentityValue(identity.national_id);
    // Percent-encoded UTF-8: header values are bytes, and "Þórður" must arrive intact.
    if (identity.name) headers[IDENTITY_HEADERS.name] = encodeURIComponent(identity.name);
    if (identity.scope) headers[IDENTITY_HEADERS.scope] = encodeIdentityValue(identity.scope);
    const assertion = await createIdentityAssertion(config, { edgeOrigin: new URL(c.req.url).origin, audience: origin.origin, identity });
    if (assertion) headers[IDENTITY_HEADERS.assertion] = assertion;
  }
  try {
    const { identity: _identity, ...forwarding } = extra;
    return await forwardToOrigin(c.req.raw, { ...forwarding, origin, timeoutMs: config.originTimeoutMs, identity: headers });
  } catch (error) {
    if (error instanceof AppError) logEvent('origin_failed', { reason: error.code, status: error.status, path: new URL(c.req.url).pathname });
    throw error;
  }
}
