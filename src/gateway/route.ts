/**
 * Gateway routes: what the edge does with a path outside `/auth/*`. One frozen
 * {@link Route} per `ROUTES` entry, per shorthand list entry and for the
 * default page, built once per configuration and compared by identity, so
 * every reading of a path can be checked to name the same route.
 */
import type { AccessRules } from '../access/rules.ts';
import type { KenniEdgeConfig } from '../config.ts';

/**
 * The three kinds of gateway route (`/auth/*` is handled before the gateway).
 * @example
 * if (route.kind === 'api') throw new AppError('session_required', 'Sign-in required.'); // never a redirect
 */
export type RouteKind = 'public' | 'api' | 'page';

/**
 * A route's access rules (`allow`, `require`, `deny`), enforced by `authorize()`.
 * @example
 * const rules: RouteRules = { require: [{ type: 'kind', kind: 'person' }] };
 */
export type RouteRules = AccessRules;

/**
 * A gateway route: its kind, the origin it forwards to, and its access rules.
 * @example
 * const audience = route.origin?.origin; // the assertion's aud
 */
export interface Route {
  readonly kind: RouteKind;
  /** Where requests on this route are forwarded (the entry's `origin`, else `ORIGIN_URL`), or `undefined` when unset. */
  readonly origin: URL | undefined;
  readonly rules: RouteRules;
  /** The configured prefix; absent on the default page route. */
  readonly path?: string;
  /** The upper-case methods the route covers; absent: all. */
  readonly methods?: readonly string[];
  /** Step-up: the sign-in must be at most this many seconds old (`max_auth_age`). */
  readonly maxAuthAge?: number;
}

/** A configuration's routes and the segment prefixes that select them. */
export interface RouteTable {
  /** The route when nothing else matches: a page to `ORIGIN_URL`, no rules. */
  readonly page: Route;
  /** Every route, longest prefix first (on a tie, one with methods first). */
  readonly routes: readonly Route[];
  /** The route a reading (decoded segments, dot segments resolved) and method fall under. */
  match(segments: readonly string[], method: string): Route;
}

interface Candidate {
  readonly prefix: readonly string[];
  /** Public prefixes match in exact letter case (never widen what is public); all others in any case. */
  readonly anyCase: boolean;
  readonly route: Route;
}

const tables = new WeakMap<KenniEdgeConfig, RouteTable>();

/**
 * The routes of a configuration, built once per (frozen) configuration: the
 * longest whole-segment prefix wins, and on a tie an entry with `methods`
 * beats one without; no match is the default page route.
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
  const segmentsOf = (prefix: string, anyCase: boolean) =>
    (anyCase ? prefix.toLowerCase() : prefix).split('/').filter((segment) => segment !== '');
  const make = (route: Route, anyCase: boolean): Candidate =>
    Object.freeze({ prefix: segmentsOf(route.path ?? '/', anyCase), anyCase, route: Object.freeze(route) });
  const shorthand = (kind: 'public' | 'api') => (path: string) =>
    make({ kind, origin: config.originUrl, rules: Object.freeze({}), path }, kind !== 'public');
  const candidates: Candidate[] = [
    ...config.routes.map((entry) =>
      make(
        {
          kind: entry.kind,
          origin: entry.origin ?? config.originUrl,
          rules: entry.rules,
          path: entry.path,
          ...(entry.methods ? { methods: entry.methods } : {}),
          ...(entry.maxAuthAge !== undefined ? { maxAuthAge: entry.maxAuthAge } : {}),
        },
        entry.kind !== 'public',
      ),
    ),
    ...config.publicPaths.map(shorthand('public')),
    ...config.apiPaths.map(shorthand('api')),
  ];
  candidates.sort((a, b) => b.prefix.length - a.prefix.length || Number(!!b.route.methods) - Number(!!a.route.methods));
  const page: Route = Object.freeze({ kind: 'page', origin: config.originUrl, rules: Object.freeze({}) });
  return Object.freeze({
    page,
    routes: Object.freeze(candidates.map((candidate) => candidate.route)),
    match(segments: readonly string[], method: string): Route {
      const upper = method.toUpperCase();
      for (const { prefix, anyCase, route } of candidates) {
        if (route.methods && !route.methods.includes(upper)) continue;
        if (covers(prefix, segments, anyCase)) return route;
      }
      return page;
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
