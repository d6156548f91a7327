/**
 * The library middleware, built from the same pipeline steps as the gateway
 * (authenticate → authorize → what `forward` needs), so a composed Hono app
 * gets the cross-site refusal, fresh tokens and the access rules of `ROUTES`
 * as the Worker does.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { parseRuleSpec, type AccessRuleSpec } from '../access/rule-spec.ts';
import { bearerMissing } from '../bearer/middleware.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import type { Route } from '../gateway/route.ts';
import { isPageNavigation } from '../request-kind.ts';
import { namingResourceMetadata } from '../resource-metadata.ts';
import { loginUrlFor } from '../session/middleware.ts';
import { authenticateBearer, authenticateSession, sessionPrincipal } from './authenticate.ts';
import { authorize } from './authorize.ts';
import { freshAccessToken } from './forward.ts';
import type { Principal } from './principal.ts';

/**
 * What a library route is to `authorize()`: no origin (the composed app
 * answers), the rules validated once here (a bad rule throws now, naming the
 * key), and `max_auth_age` in the shape a gateway route carries it.
 */
function libraryRoute(kind: Route['kind'], rules: AccessRuleSpec | undefined, where: string): Route {
  const parsed = rules === undefined ? undefined : parseRuleSpec(rules, where);
  return Object.freeze({
    kind,
    origin: undefined,
    rules: parsed?.rules ?? Object.freeze({}),
    ...(parsed?.maxAuthAge !== undefined ? { maxAuthAge: parsed.maxAuthAge } : {}),
  });
}

/**
 * Decides `principal` on `route` as the gateway does: the 403 page for
 * navigations names this path and query, and step-up allows `CLOCK_TOLERANCE`.
 */
function authorizeRequest(c: Context<AppEnv>, principal: Principal, route: Route): void {
  const url = new URL(c.req.url);
  const context = {
    returnTo: `${url.pathname}${url.search}`,
    path: url.pathname,
    method: c.req.method,
    clockTolerance: c.get('config').clockTolerance,
  };
  authorize(principal, route, context);
}

/**
 * Options for {@link requireSession}.
 * @example
 * app.post('/account', requireSession({ freshToken: true }), (c) => c.json({ ok: true }));
 * app.get('/adults', requireSession({ rules: { require: [{ min_age: 18 }] } }), (c) => c.text('welcome'));
 */
export interface RequireSessionOptions {
  /**
   * Who may pass, as in a `ROUTES` entry (`allow`, `require`, `deny`,
   * `max_auth_age`); validated when the middleware is created.
   */
  rules?: AccessRuleSpec;
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
 * 403 `cross_site_request`. With `rules`, a session that fails them gets 403
 * `access_denied` (the gateway's page for a navigation, JSON otherwise), decided
 * after the refresh that `freshToken` may cause.
 * @example app.post('/account', requireSession({ freshToken: true }), (c) => callApi(c.var.accessToken!))
 */
export function requireSession(options: RequireSessionOptions = {}): MiddlewareHandler<AppEnv> {
  const route = libraryRoute('page', options.rules, 'requireSession({ rules })');
  return async (c, next) => {
    let principal = await authenticateSession(c);
    if (!principal) {
      if (isPageNavigation(c.req.raw)) return c.redirect(loginUrlFor(new URL(c.req.url)), 302);
      throw new AppError('session_required', 'Sign-in required.', { reason: 'no_session' });
    }
    if (options.freshToken) {
      // Refreshed before the rules: a refreshed ID token replaces the claims they are decided on.
      const accessToken = await freshAccessToken(c, principal);
      principal = sessionPrincipal(c.get('session')!);
      c.set('accessToken', accessToken);
    }
    authorizeRequest(c, principal, route);
    c.set('principal', principal);
    await next();
  };
}

/**
 * Options for {@link requireBearer}.
 * @example
 * app.get('/api/orders', requireBearer({ scopes: ['@your-team.is/orders.read'] }), (c) => c.json([]));
 * app.post('/api/orders', requireBearer({ rules: { require: [{ scope: ['@your-team.is/orders.write'] }] } }), (c) => c.json({}));
 */
export interface RequireBearerOptions {
  /** Scopes every token must carry (default: `KENNI_API_SCOPE`). */
  scopes?: readonly string[];
  /**
   * Who may pass, as in a `ROUTES` entry; a failed `scope` condition answers
   * 403 `insufficient_scope` naming the scopes. Validated when the middleware is created.
   */
  rules?: AccessRuleSpec;
}

/**
 * Verifies `Authorization: Bearer <jwt>` (an opaque token by introspection) and sets `c.var.principal` and
 * `c.var.bearer`. Failures answer RFC 6750 JSON with `WWW-Authenticate` naming
 * the resource metadata (RFC 9728), also in an app without `onError`.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 * @example app.get('/api/orders', requireBearer({ scopes: ['@your-team.is/orders.read'] }), (c) => c.json(c.var.principal))
 */
export function requireBearer(options: RequireBearerOptions = {}): MiddlewareHandler<AppEnv> {
  const route = libraryRoute('api', options.rules, 'requireBearer({ rules })');
  return async (c, next) => {
    // The bearer routes are APIs: JSON even for a browser navigation.
    c.set('errorFormat', 'json');
    // Its challenges name the resource metadata (RFC 9728 §5.1).
    const principal = await namingResourceMetadata(c, async () => {
      const verified = await authenticateBearer(c, options.scopes ?? c.get('config').apiScopes);
      if (!verified) throw bearerMissing();
      authorizeRequest(c, verified, route);
      return verified;
    });
    c.set('principal', principal);
    await next();
  };
}

/**
 * Applies `rules` (the keys of a `ROUTES` entry) to the principal that
 * {@link requireSession} or {@link requireBearer} set before it, with the
 * gateway's answers: 403 `access_denied` (a page for navigations, JSON
 * otherwise), 403 `insufficient_scope` for a bearer token lacking a scope.
 * The rules are validated now: a bad one throws a `ConfigError` naming the key.
 * Without a principal (no such middleware ran first) it refuses with 500 `internal_error`: never open.
 * @example app.get('/admin/*', requireSession(), requireAccess({ allow: [{ national_id: ['0101302989'] }] }), (c) => c.text('hi'))
 */
export function requireAccess(rules: AccessRuleSpec): MiddlewareHandler<AppEnv> {
  const pageRoute = libraryRoute('page', rules, 'requireAccess(rules)');
  const apiRoute = Object.freeze({ ...pageRoute, kind: 'api' as const });
  return async (c, next) => {
    const principal = c.get('principal');
    if (!principal) {
      throw new AppError('internal_error', 'requireAccess() runs after requireSession() or requireBearer().', {
        reason: 'no_principal',
      });
    }
    if (principal.auth === 'bearer') {
      // A bearer caller is an API client: its challenges name the resource metadata (RFC 9728 §5.1).
      await namingResourceMetadata(c, async () => authorizeRequest(c, principal, apiRoute));
    } else {
      authorizeRequest(c, principal, pageRoute);
    }
    await next();
  };
}
