/**
 * Step-up (`max_auth_age`): how recent a sign-in must be. One rule, in one
 * place, for both ends of the flow: the callback holds a new ID token's
 * `auth_time` to the `max_age` its login asked for (a provider that ignores
 * `max_age` must not satisfy a route), and `authorize()` holds the session's
 * or the bearer token's `auth_time` to the route's `max_auth_age`. Both allow
 * the same `CLOCK_TOLERANCE`, so a login the callback accepts is accepted by
 * the route it returns to (no redirect loop).
 * @see https://www.rfc-editor.org/rfc/rfc9470
 */
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import type { Principal } from '../pipeline/principal.ts';
import { nowSeconds } from '../time.ts';

/** Why a sign-in is not recent enough; logged as `detail`, never with the time itself. */
export type AuthAgeProblem = 'auth_time_missing' | 'auth_time_too_old' | 'auth_time_in_future';

/**
 * Whether `authTime` (seconds since the epoch) is at most `maxAge` seconds
 * before `now`, give or take `tolerance`: `undefined` when it is, else why not.
 * A missing or non-numeric `auth_time` never satisfies a maximum age.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
export function authAgeProblem(
  authTime: unknown,
  maxAge: number,
  now: number,
  tolerance: number,
): AuthAgeProblem | undefined {
  if (typeof authTime !== 'number' || !Number.isFinite(authTime)) return 'auth_time_missing';
  if (authTime > now + tolerance) return 'auth_time_in_future';
  return authTime + maxAge + tolerance >= now ? undefined : 'auth_time_too_old';
}

/**
 * The login that satisfies a step-up: `/auth/login?return_to=<path and query>&max_age=N`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 */
export function stepUpLoginUrl(returnTo: string, maxAge: number): string {
  return `/auth/login?return_to=${encodeURIComponent(returnTo)}&max_age=${maxAge}`;
}

/** What {@link requireRecentSignIn} needs from the request. */
export interface StepUpContext {
  /** The request's path and query: a page navigation signs in again and returns there. */
  readonly returnTo?: string;
  /** The request path and method, for the log line. */
  readonly path?: string;
  readonly method?: string;
  /** `CLOCK_TOLERANCE` (seconds); default 0. */
  readonly clockTolerance?: number;
}

/**
 * Admits `principal` when its sign-in is at most `maxAuthAge` seconds old, else
 * logs `access_denied` (reason `step_up_required`) and throws 401
 * `insufficient_user_authentication` with `max_age`: a session's page
 * navigation answers it with a 302 to {@link stepUpLoginUrl}, anything else
 * with the RFC 9470 challenge.
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export function requireRecentSignIn(principal: Principal, maxAuthAge: number, context: StepUpContext = {}): void {
  const problem = authAgeProblem(principal.authTime, maxAuthAge, nowSeconds(), context.clockTolerance ?? 0);
  if (!problem) return;
  logEvent('access_denied', {
    reason: 'step_up_required',
    detail: `${problem}, ${principal.auth}`,
    ...(context.path !== undefined ? { path: context.path } : {}),
    ...(context.method !== undefined ? { method: context.method } : {}),
  });
  const login = stepUpLoginUrl(context.returnTo ?? '/', maxAuthAge);
  throw new AppError(
    'insufficient_user_authentication',
    principal.auth === 'bearer'
      ? `This route needs a sign-in at most ${maxAuthAge} seconds old: the token's auth_time is missing or older.`
      : `This route needs a sign-in at most ${maxAuthAge} seconds old. Please sign in again.`,
    {
      oauthError: 'insufficient_user_authentication',
      maxAge: maxAuthAge,
      reason: 'step_up_required',
      retryHref: login,
      // Only a session can be renewed by sending the browser to sign in; a bearer client asks its own provider.
      ...(principal.auth === 'session' && context.returnTo !== undefined ? { location: login } : {}),
    },
  );
}

/**
 * The callback's check: the new ID token's `auth_time` must be within the
 * `max_age` the login asked for. Throws 400 `login_too_old` otherwise, so a
 * provider that ignores `max_age` gets no session (and no redirect loop: the
 * page offers a fresh sign-in with `prompt=login`).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export function checkLoginAge(authTime: unknown, maxAge: number, clockTolerance: number, returnTo: string): void {
  const problem = authAgeProblem(authTime, maxAge, nowSeconds(), clockTolerance);
  if (!problem) return;
  throw new AppError(
    'login_too_old',
    'This page needs a recent sign-in, and the sign-in service did not confirm one. Please sign in again.',
    {
      retryHref: `${stepUpLoginUrl(returnTo, maxAge)}&prompt=login`,
      pageLinks: { retryLabel: 'sign_in_again' },
    },
  );
}
