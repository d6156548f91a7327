/**
 * Gateway routes: what the edge does with a path outside `/auth/*`. One frozen
 * {@link Route} per kind and configuration, built once and compared by
 * identity, so every reading of a path can be checked to name the same route.
 */
import type { KenniEdgeConfig } from '../config.ts';

/**
 * The three kinds of gateway route (`/auth/*` is handled before the gateway).
 * @example
 * if (route.kind === 'api') throw new AppError('session_required', 'Sign-in required.'); // never a redirect
 */
export type RouteKind = 'public' | 'api' | 'page';

/**
 * Per-route access rules. Empty today (everyone authenticated is admitted); the
 * access-rules issue fills these and `authorize()` enforces them.
 * @example
 * const rules: RouteRules = { methods: ['GET'] };
 */
export interface RouteRules {
  /** Subjects or groups admitted (unset: everyone authenticated). */
  readonly allow?: readonly string[];
  /** Claims or scopes every principal must carry. */
  readonly require?: readonly string[];
  /** Subjects or groups refused. */
  readonly deny?: readonly string[];
  /** The longest time since sign-in accepted, seconds. */
  readonly maxAuthAge?: number;
  /** The methods the route answers. */
  readonly methods?: readonly string[];
}

/**
 * A gateway route: its kind, the origin it forwards to, and its access rules.
 * @example
 * const audience = route.origin?.origin; // the assertion's aud
 */
export interface Route {
  readonly kind: RouteKind;
  /** Where requests on this route are forwarded (`ORIGIN_URL`), or `undefined` when unset. */
  readonly origin: URL | undefined;
  readonly rules: RouteRules;
}

/** A configuration's routes and the segment prefixes that select them. */
export interface RouteTable {
  readonly public: Route;
  readonly api: Route;
  readonly page: Route;
  /** The route a reading (decoded segments, dot segments resolved) falls under. */
  match(segments: readonly string[]): Route;
}

const tables = new WeakMap<KenniEdgeConfig, RouteTable>();

/**
 * The routes of a configuration, built once per (frozen) configuration: public
 * when a public prefix covers the reading (exact letter case); API when an API
 * prefix does, in any letter case; a page otherwise.
 */
export function routeTable(config: KenniEdgeConfig): RouteTable {
  let table = tables.get(config);
  if (!table) {
    table = buildTable(config);
    tables.set(config, table);
  }
  return table;
}

function buildTable(config: KenniEdgeConfig): RouteTable {
  const route = (kind: RouteKind): Route => Object.freeze({ kind, origin: config.originUrl, rules: Object.freeze({}) });
  const segmentsOf = (prefix: string) => prefix.split('/').filter((segment) => segment !== '');
  const publicPrefixes = config.publicPaths.map(segmentsOf);
  const apiPrefixes = config.apiPaths.map((prefix) => segmentsOf(prefix.toLowerCase()));
  const routes = { public: route('public'), api: route('api'), page: route('page') };
  return Object.freeze({
    ...routes,
    match(segments: readonly string[]): Route {
      if (publicPrefixes.some((prefix) => covers(prefix, segments, false))) return routes.public;
      if (apiPrefixes.some((prefix) => covers(prefix, segments, true))) return routes.api;
      return routes.page;
    },
  });
}

/**
 * True when `prefix` covers `segments` on whole segments: `/public` covers
 * `/public` and `/public/x` but not `/publicity`; `/favicon.ico` does not cover
 * `/favicon.ico.bak`.
 */
function covers(prefix: readonly string[], segments: readonly string[], lowerCase: boolean): boolean {
  if (prefix.length > segments.length) return false;
  return prefix.every((part, index) => (lowerCase ? segments[index]!.toLowerCase() : segments[index]) === part);
}
