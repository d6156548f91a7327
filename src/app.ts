/**
 * The kenni-edge Hono app: `/auth/*` routes and the gateway, with configuration
 * parsed once per isolate and one error handler for the whole app.
 */
import { Hono } from 'hono/tiny';
import type { Context, MiddlewareHandler } from 'hono';
import { loadConfig } from './config.ts';
import type { AppEnv } from './context.ts';
import { AppError, errorResponse } from './errors.ts';
import { errorFormat, formatFor, localeFor } from './error-format.ts';
import { classifyGatewayRequest, handleGateway } from './gateway/handler.ts';
import { logEvent } from './log.ts';
import { recordAuthMetrics } from './metrics.ts';
import { expireCookie, SESSION_COOKIE } from './session/cookies.ts';
import { handleAdminRevoke } from './routes/admin-revoke.ts';
import { handleBackchannelLogout } from './routes/backchannel-logout.ts';
import { handleCallback } from './routes/callback.ts';
import { handleEdgeJwks } from './routes/edge-jwks.ts';
import { handleHealth, HEALTH_PATH } from './routes/health.ts';
import { handleProtectedResource, refuseProtectedResourceMethod } from './routes/protected-resource.ts';
import { RESOURCE_METADATA_PATH } from './resource-metadata.ts';
import { handleLogin } from './routes/login.ts';
import { handleLogout } from './routes/logout.ts';
import { handleMe } from './routes/me.ts';
import { handleRefresh } from './routes/refresh.ts';
import { handleListSessions, handleRevokeSessions } from './routes/sessions.ts';
import { handleVerify } from './routes/verify.ts';

/** The methods each `/auth/*` route answers (anything else gets 405 with `Allow`). */
const AUTH_ROUTE_METHODS: Record<string, string[]> = {
  '/auth/login': ['GET'],
  '/auth/callback': ['GET'],
  '/auth/me': ['GET'],
  '/auth/refresh': ['POST'],
  '/auth/logout': ['GET', 'POST'],
  '/auth/jwks.json': ['GET'],
  '/auth/verify': ['GET'],
  '/auth/health': ['GET'],
  '/auth/sessions': ['GET'],
  '/auth/sessions/revoke': ['POST'],
  '/auth/backchannel-logout': ['POST'],
  '/auth/admin/revoke': ['POST'], // 404 for every method without KENNI_ADMIN_SCOPE
};

/** The `/auth/*` routes a browser navigates to: their errors are pages (with the right method). */
const AUTH_PAGES = new Set(['/auth/login', '/auth/callback', '/auth/logout']);

/** Errors under `/auth/*`: a page on the login, callback and logout routes, JSON on the others (and on a wrong method). */
const authErrorFormat = errorFormat((c) => {
  const path = new URL(c.req.url).pathname;
  const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
  return AUTH_PAGES.has(path) && AUTH_ROUTE_METHODS[path]!.includes(method) ? 'page' : 'json';
});

/** What the gateway names in `Allow` when it refuses a method (the origin decides about the rest). */
const GATEWAY_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * `TRACE` and `TRACK` echo the request back, headers included (the edge's
 * identity headers and, on API paths, the session's access token): refused
 * with 405 on every gateway path, in any letter case. `/auth/*` answers them
 * with 405 already.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-9.3.8
 */
const refuseTrace: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method.toUpperCase();
  if (method === 'TRACE' || method === 'TRACK') {
    throw new AppError('method_not_allowed', `${method} is not allowed here.`, { headers: { allow: GATEWAY_METHODS } });
  }
  await next();
};

/**
 * Options for {@link createKenniEdge}.
 * @example
 * app.route('/', createKenniEdge({ gateway: false }));
 */
export interface KenniEdgeOptions {
  /** Serve the gateway (forwarding to `ORIGIN_URL`) on every other path. Default true. */
  gateway?: boolean;
}

/**
 * Middleware that parses the configuration from `c.env` (once per isolate) into
 * `c.var.config`. Use it first when composing `requireSession()` /
 * `requireBearer()` into your own Hono app.
 * @example
 * const app = new Hono<AppEnv>();
 * app.use('*', kenniConfig());
 * app.get('/me', requireSession(), (c) => c.json({ sub: c.var.principal!.subject }));
 */
export function kenniConfig(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // `/auth/health` reads the configuration itself: an invalid one is its 503 answer, not a 500 here.
    if (new URL(c.req.url).pathname !== HEALTH_PATH) c.set('config', loadConfig(c.env));
    // One METRICS data point per auth decision, when the binding is there.
    await recordAuthMetrics(c, next);
  };
}

/**
 * Creates the edge app: `/auth/login`, `/auth/callback`, `/auth/me`,
 * `/auth/refresh`, `/auth/logout`, `/auth/jwks.json`, `/auth/verify`, `/auth/health`,
 * `/auth/backchannel-logout`, `/auth/admin/revoke` (with `KENNI_ADMIN_SCOPE`),
 * `/.well-known/oauth-protected-resource` (RFC 9728), and the gateway.
 * Mount it as the Worker's default export, or compose it into your own Hono app.
 * @example
 * export default createKenniEdge(); // the whole edge as a Worker
 * app.route('/', createKenniEdge({ gateway: false })); // or only the /auth/* routes in your own app
 */
export function createKenniEdge(options: KenniEdgeOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Before the configuration is loaded: an invalid configuration is what health reports (503), not a 500.
  app.get(HEALTH_PATH, handleHealth);
  app.use('*', async (c, next) => {
    c.set('config', loadConfig(c.env));
    try {
      await next();
    } catch (error) {
      // Hono hands only Error instances to onError: a thrown string or object would reach the runtime, which prints it whole.
      c.res = handleError(error, c);
    }
    if (
      c.get('staleSessionCookie') &&
      !c.res.headers.getSetCookie().some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))
    ) {
      // An ended session's cookie is cleared, so the browser stops sending it.
      c.res.headers.append('set-cookie', expireCookie(SESSION_COOKIE));
    }
  });
  app.get(RESOURCE_METADATA_PATH, handleProtectedResource);
  app.all(RESOURCE_METADATA_PATH, refuseProtectedResourceMethod);
  app.use('*', recordAuthMetrics);
  app.use('/auth/*', authErrorFormat);
  // Exact paths only: Hono's tiny router would also let `/auth/me/` (a trailing slash) reach `/auth/me`.
  app.use('/auth/*', async (c, next) => {
    if (!Object.hasOwn(AUTH_ROUTE_METHODS, new URL(c.req.url).pathname))
      throw new AppError('not_found', 'No such route under /auth/.');
    await next();
  });
  app.get('/auth/login', handleLogin);
  app.get('/auth/callback', handleCallback);
  app.get('/auth/me', handleMe);
  app.post('/auth/refresh', handleRefresh);
  app.on(['GET', 'POST'], '/auth/logout', handleLogout);
  app.get('/auth/jwks.json', handleEdgeJwks);
  app.get('/auth/verify', handleVerify);
  app.get('/auth/sessions', handleListSessions);
  app.post('/auth/sessions/revoke', handleRevokeSessions);
  app.post('/auth/backchannel-logout', handleBackchannelLogout);
  app.post('/auth/admin/revoke', handleAdminRevoke);
  app.all('/auth/*', (c) => {
    const path = new URL(c.req.url).pathname;
    // Without KENNI_ADMIN_SCOPE the admin route does not exist: 404 for every method, not 405.
    const allowed = path === '/auth/admin/revoke' && !c.get('config').adminScope ? undefined : AUTH_ROUTE_METHODS[path];
    if (allowed) {
      throw new AppError('method_not_allowed', `Use ${allowed.join(' or ')} for this route.`, {
        headers: { allow: allowed.join(', ') },
      });
    }
    throw new AppError('not_found', 'No such route under /auth/.');
  });
  if (options.gateway !== false) {
    app.all('*', refuseTrace, classifyGatewayRequest, handleGateway);
  }
  app.notFound((c) => errorResponse(new AppError('not_found', 'Not found.'), formatFor(c), localeFor(c)));
  app.onError((error, c) => handleError(error, c));
  return app;
}

/**
 * The one error handler: known errors become their status, anything else a logged 500.
 * @example
 * app.onError(handleError);
 */
export function handleError(error: unknown, c: Context<AppEnv>): Response {
  if (error instanceof AppError) return errorResponse(error, formatFor(c), localeFor(c));
  // Only the class name: a message, stack or cause may hold a token or a national id, and would print as a non-JSON line.
  logEvent('internal_error', {
    reason: 'internal_error',
    path: new URL(c.req.url).pathname,
    detail: errorClass(error),
  });
  return errorResponse(
    new AppError('internal_error', 'Something went wrong at the edge. Please try again.'),
    formatFor(c),
    localeFor(c),
  );
}

/** The class name of a thrown value (`TypeError`), or its type; a `name` that is not an identifier is data, not a class. */
function errorClass(error: unknown): string {
  if (!(error instanceof Error)) return error === null ? 'null' : typeof error;
  return /^[A-Za-z_$][\w$]{0,63}$/.test(error.name) ? error.name : 'Error';
}
