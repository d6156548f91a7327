/**
 * The access-rule vocabulary of `ROUTES` (types and one limit): conditions and the
 * parsed route entries the configuration holds. Parsing is in
 * `parse-routes.ts`, evaluation in `conditions.ts`.
 */

/**
 * One parsed condition. `type` is the condition's key in `ROUTES` (it is also
 * what `access_denied` logs as `reason`; a value is never logged).
 * @example
 * const adults: Condition = { type: 'min_age', years: 18 };
 */
export type Condition =
  | { readonly type: 'everyone' }
  | { readonly type: 'national_id' | 'actor_national_id' | 'sub'; readonly values: readonly string[] }
  | { readonly type: 'kind'; readonly kind: 'person' | 'company' }
  | { readonly type: 'min_age'; readonly years: number }
  | { readonly type: 'delegation'; readonly delegation: 'none' | 'any' | readonly string[] }
  | { readonly type: 'scope'; readonly scopes: readonly string[] }
  | { readonly type: 'auth'; readonly auth: 'session' | 'bearer' }
  | { readonly type: 'claim'; readonly name: string; readonly values: readonly string[] };

/** The largest `max_auth_age` (and login `max_age`) accepted, seconds: one year, the longest `SESSION_TTL`. */
export const MAX_AUTH_AGE_LIMIT = 31_536_000;

/** The condition keys of the contract. */
export type ConditionType = Condition['type'];

/**
 * Who may pass a route: `allow` (any one holds; absent: anyone signed in),
 * `require` (every one holds), `deny` (any one holding refuses; deny wins).
 * @example
 * const rules: AccessRules = { allow: [{ type: 'kind', kind: 'person' }] };
 */
export interface AccessRules {
  readonly allow?: readonly Condition[];
  readonly require?: readonly Condition[];
  readonly deny?: readonly Condition[];
}

/**
 * One validated `ROUTES` entry, as the configuration holds it.
 * @example
 * const admin: RouteEntry = { path: '/admin', kind: 'page', rules: { require: [], deny: [] } };
 */
export interface RouteEntry {
  /** The prefix as configured (starts with `/`). */
  readonly path: string;
  /** Upper-case methods the entry covers; absent: all. */
  readonly methods?: readonly string[];
  readonly kind: 'public' | 'api' | 'page';
  /** The entry's origin; absent: `ORIGIN_URL`. */
  readonly origin?: URL;
  readonly rules: AccessRules;
  /** Step-up: the sign-in (`auth_time`) must be at most this many seconds old. */
  readonly maxAuthAge?: number;
}
