/**
 * Step 2 of the request pipeline: may this principal use this route? The
 * route's `allow`/`require`/`deny` rules are evaluated on the principal's
 * current claims on every request (cache hits included), in one place for the
 * gateway and the library.
 */
import { evaluateRules } from '../access/conditions.ts';
import { renderAccessDeniedPage } from '../access/denied-page.ts';
import { requireRecentSignIn } from '../access/step-up.ts';
import { AppError } from '../errors.ts';
import type { Route } from '../gateway/route.ts';
import { logEvent } from '../log.ts';
import { nowSeconds } from '../time.ts';
import type { Principal } from './principal.ts';

/** What `authorize` needs from the request to answer a refusal. */
export interface AuthorizeContext {
  /** The refused request's path and query: the delegation switch on the 403 page returns there. */
  readonly returnTo?: string;
  /** The request path, for the log line. */
  readonly path?: string;
  readonly method?: string;
  /** `CLOCK_TOLERANCE`: the allowance of the step-up check (as at the callback). */
  readonly clockTolerance?: number;
}

/**
 * Admits `principal` to `route` or throws an `AppError`: 403 `access_denied`
 * (logged with the kind of condition, never its value), or 403
 * `insufficient_scope` naming the scopes when a bearer token lacks a required one;
 * on a `max_auth_age` route, 401 `insufficient_user_authentication` when the
 * sign-in is older (see `requireRecentSignIn`).
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function authorize(principal: Principal, route: Route, context: AuthorizeContext = {}): void {
  const refusal = evaluateRules(route.rules, principal, nowSeconds());
  if (!refusal) {
    // After the rules: a 403 beats step-up, since signing in again would not help.
    if (route.maxAuthAge !== undefined) requireRecentSignIn(principal, route.maxAuthAge, context);
    return;
  }
  const kinds = [...new Set(refusal.conditions.map((condition) => condition.type))];
  const scopeCondition = refusal.conditions.find((condition) => condition.type === 'scope');
  logEvent('access_denied', {
    reason: kinds.join(','),
    detail: `rule ${refusal.rule}, ${principal.auth}`,
    ...(context.path !== undefined ? { path: context.path } : {}),
    ...(context.method !== undefined ? { method: context.method } : {}),
  });
  // A bearer client can fix a missing scope by asking for it (RFC 6750 §3.1); a held deny-scope it cannot.
  if (principal.auth === 'bearer' && refusal.rule !== 'deny' && scopeCondition?.type === 'scope') {
    throw new AppError('insufficient_scope', 'The access token lacks a scope this route requires.', {
      oauthError: 'insufficient_scope',
      scope: scopeCondition.scopes.join(' '),
      reason: 'access_denied',
    });
  }
  const { returnTo } = context;
  throw new AppError('access_denied', 'The signed-in identity may not use this route.', {
    ...(returnTo !== undefined ? { page: (locale) => renderAccessDeniedPage(principal, returnTo, locale) } : {}),
  });
}
