/**
 * The gateway: every path the edge does not own, as one pipeline. The path is
 * classified into a route (refused when its readings disagree); a CORS
 * preflight and a public route are forwarded without identity; otherwise
 * authenticate (bearer on API routes, or the session) → authorize → forward
 * with identity headers, the signed assertion and the token the route needs.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { authenticate } from '../pipeline/authenticate.ts';
import { authorize } from '../pipeline/authorize.ts';
import { forward } from '../pipeline/forward.ts';
import { isPageNavigation } from '../request-kind.ts';
import { namingResourceMetadata } from '../resource-metadata.ts';
import { loginUrlFor } from '../session/middleware.ts';
import { classifyPath, type PathClassification } from './policy.ts';
import type { Route } from './route.ts';

/**
 * Classifies the gateway path once (into `c.var.classification`) and fixes the
 * gateway's error format: JSON when any reading is an API route or the request
 * is no page navigation, a page otherwise.
 */
export const classifyGatewayRequest: MiddlewareHandler<AppEnv> = async (c, next) => {
  const classification = classifyPath(c.get('config'), new URL(c.req.url).pathname, c.req.method);
  c.set('classification', classification);
  const apiReading = classification.readings.some((reading) => reading.route.kind === 'api');
  c.set('errorFormat', apiReading || !isPageNavigation(c.req.raw) ? 'json' : 'page');
  await next();
};

/** Handles every request outside `/auth/*`. */
export async function handleGateway(c: Context<AppEnv>): Promise<Response> {
  const url = new URL(c.req.url);
  const classification: PathClassification =
    c.get('classification') ?? classifyPath(c.get('config'), url.pathname, c.req.method);
  // Decided before any authentication: an origin that reads the path another way would serve what the edge did not authorise.
  const route = classification.agreed;
  if (route === undefined) {
    logEvent('request_refused', {
      reason: 'path_ambiguous',
      detail: classification.reason,
      path: url.pathname,
      method: c.req.method,
    });
    throw new AppError(
      'path_ambiguous',
      'This path reads differently to different servers (a ";" parameter, a backslash, an encoded "/", "\\" or dot segment, a control character or double encoding), so it is refused.',
      {
        reason: 'path_ambiguous',
      },
    );
  }
  if (!route.origin) throw new AppError('origin_not_configured', 'Nothing is served here: ORIGIN_URL is not set.');

  // CORS preflights need no credentials, so they go bare (no body, cookies or Authorization); the origin answers them.
  if (isCorsPreflight(c.req.raw)) return forward(c, undefined, route, { preflight: true });
  // Public paths: the client's own Authorization is the origin's business.
  if (route.kind === 'public') return forward(c, undefined, route);
  // API routes: every Bearer challenge names the resource metadata (RFC 9728 §5.1).
  if (route.kind === 'api') return namingResourceMetadata(c, () => authenticatedForward(c, route, url));
  return authenticatedForward(c, route, url);
}

/** Authenticate → authorize → forward for a route that needs a principal. */
async function authenticatedForward(c: Context<AppEnv>, route: Route, url: URL): Promise<Response> {
  const principal = await authenticate(c, route);
  if (!principal) {
    if (route.kind === 'page' && isPageNavigation(c.req.raw)) return c.redirect(loginUrlFor(url), 302);
    throw new AppError(
      'session_required',
      route.kind === 'api' ? 'A bearer access token or a session is required.' : 'Sign-in required.',
      { reason: 'no_session' },
    );
  }
  c.set('principal', principal);
  authorize(principal, route, {
    returnTo: `${url.pathname}${url.search}`,
    path: url.pathname,
    method: c.req.method,
    clockTolerance: c.get('config').clockTolerance,
  });
  return forward(c, principal, route);
}

function isCorsPreflight(request: Request): boolean {
  return (
    request.method === 'OPTIONS' &&
    request.headers.has('access-control-request-method') &&
    request.headers.has('origin')
  );
}
