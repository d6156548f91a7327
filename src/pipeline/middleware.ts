/**
 * The library middleware, built from the same pipeline steps as the gateway
 * (authenticate → authorize → what `forward` needs), so a composed Hono app
 * gets the cross-site refusal and fresh tokens as the Worker does.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerMissing } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Route } from '../gateway/route.ts';
import { isPageNavigation } from '../request-kind.ts';
import { namingResourceMetadata } from '../resource-metadata.ts';
import { loginUrlFor } from '../session/middleware.ts';
import { authenticateBearer, authenticateSession } from './authenticate.ts';
import { authorize } from './authorize.ts';
import { freshAccessToken } from './forward.ts';

/** What a library route is to `authorize()`: no origin (the composed app answers) and no rules yet. */
const libraryRoute = (kind: Route['kind']): Route =>
  Object.freeze({ kind, origin: undefined, rules: Object.freeze({}) });
const SESSION_ROUTE = libraryRoute('page');
const BEARER_ROUTE = libraryRoute('api');

/**
 * Options for {@link requireSession}.
 * @example
 * app.post('/account', requireSession({ freshToken: true }), (c) => c.json({ ok: true }));
 */
export interface RequireSessionOptions {
  /**
   * Put the session's access token in `c.var.accessToken`, refreshed first when
   * it expires within `REFRESH_BEFORE_EXPIRY` (for routes that call an API as the user).
   */
  freshToken?: boolean;
}

/**
 * Requires a session and sets `c.var.principal` and `c.var.session`. A page
 * navigation without one is redirected to `/auth/login?return_to=…`; anything
 * else gets 401 JSON. A cross-site state-changing or WebSocket request gets
 * 403 `cross_site_request`.
 * @example app.post('/account', requireSession({ freshToken: true }), (c) => callApi(c.var.accessToken!))
 */
export function requireSession(options: RequireSessionOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = await authenticateSession(c);
    if (!principal) {
      if (isPageNavigation(c.req.raw)) return c.redirect(loginUrlFor(new URL(c.req.url)), 302);
      throw new AppError('session_required', 'Sign-in required.', { reason: 'no_session' });
    }
    authorize(principal, SESSION_ROUTE);
    c.set('principal', principal);
    if (options.freshToken) c.set('accessToken', await freshAccessToken(c, principal));
    await next();
  };
}

/**
 * Options for {@link requireBearer}.
 * @example
 * app.get('/api/orders', requireBearer({ scopes: ['@your-team.is/orders.read'] }), (c) => c.json([]));
 */
export interface RequireBearerOptions {
  /** Scopes every token must carry (default: `KENNI_API_SCOPE`). */
  scopes?: readonly string[];
}

/**
 * Verifies `Authorization: Bearer <jwt>` (an opaque token by introspection) and sets `c.var.principal` and
 * `c.var.bearer`. Failures answer RFC 6750 JSON with `WWW-Authenticate` naming
 * the resource metadata (RFC 9728), also in an app without `onError`.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @example app.get('/api/orders', requireBearer({ scopes: ['@your-team.is/orders.read'] }), (c) => c.json(c.var.principal))
 */
export function requireBearer(options: RequireBearerOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // The bearer routes are APIs: JSON even for a browser navigation.
    c.set('errorFormat', 'json');
    const principal = await namingResourceMetadata(c, async () => {
      const verified = await authenticateBearer(c, options.scopes ?? c.get('config').apiScopes);
      if (!verified) throw bearerMissing();
      authorize(verified, BEARER_ROUTE);
      return verified;
    });
    c.set('principal', principal);
    await next();
  };
}
