/**
 * Which rule a path falls under: public, API or page, under every way a server
 * behind the edge might read it. Servers disagree on paths: Tomcat removes
 * `;…` from each segment before decoding, nginx decodes `%2F` into a
 * separator, IIS reads `\` as `/`, a proxy in front of an application decodes
 * once more. The edge computes each such reading of the path it forwards; when
 * they fall under different classes (or one climbs above the root, or holds a
 * control character) the path is ambiguous and the gateway refuses it
 * (400 `path_ambiguous`), so the origin only ever receives what the edge
 * authorised. Matching is on whole, decoded segments.
 */
import type { KenniEdgeConfig } from '../config.ts';
import { routeTable, type Route } from './route.ts';

/** Why a path is refused as ambiguous. */
export type AmbiguityReason =
  /** The readings fall under different classes. */
  | 'readings_differ'
  /** A reading's `..` climbs above the root (it would leave the origin's base path). */
  | 'escapes_root'
  /** A reading holds `%00` or another control character (C strings end there). */
  | 'control_character'
  /** The path, or a reading decoded once more, is not valid percent-encoded UTF-8. */
  | 'undecodable'
  /** Encoded more times, in more ways or at more length than the edge reads (this bounds the work per request). */
  | 'too_complex';

/** One reading of a path and the route it falls under. */
export interface ClassifiedReading {
  /** The decoded segments, dot segments resolved, empty segments left out. */
  readonly segments: readonly string[];
  readonly route: Route;
}

/**
 * The classification of a path: every distinct reading with its route, and the
 * route they all agree on (routes are compared by identity). The gateway
 * refuses the path when `agreed` is undefined.
 */
export interface PathClassification {
  readonly readings: readonly ClassifiedReading[];
  /** The route of every reading, or `undefined` when the path is ambiguous. */
  readonly agreed: Route | undefined;
  /** Set when `agreed` is undefined. */
  readonly reason?: AmbiguityReason;
}

/** Further decoding rounds a reading may take; a path that still changes after them is refused. */
const MAX_EXTRA_DECODES = 3;
/** Characters read over all intermediate forms at most: a plain path of this length, or a short one with many forms. */
const MAX_WORK = 32 * 1024;

/** The readings of a path, or why it has none the edge can vouch for. */
export type PathReadings =
  | { readonly readings: ReadonlyArray<readonly string[]> }
  | { readonly refused: Exclude<AmbiguityReason, 'readings_differ'> };

/**
 * Computes every reading of a URL pathname (as the URL parser gave it): as
 * received; with `;…` removed from every segment, or cut at the first `;`;
 * with `\` as `/`; decoded once more (so `%2F`, `%5C`, `%3B`, `%2e`, `%25`
 * take effect), in every order and combination; each with runs of `/`
 * merged before `..` is resolved (nginx, Tomcat) and without (a `..` then
 * takes back an empty segment: `/a%2F%2F..%2Fb` decoded is `/b` merged but
 * `/a/b` unmerged). A reading decodes each segment once and treats a segment
 * that decodes to `.` or `..` as a dot segment.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4
 */
export function readPath(pathname: string): PathReadings {
  try {
    decodeURIComponent(pathname);
  } catch {
    return { refused: 'undecodable' };
  }
  const readings = new Map<string, readonly string[]>();
  const decodes = new Map<string, number>([[pathname, 0]]);
  const queue = [pathname];
  let work = 0;
  for (let index = 0; index < queue.length; index++) {
    const form = queue[index]!;
    work += form.length;
    if (work > MAX_WORK) return { refused: 'too_complex' };
    const both = interpret(form);
    if (typeof both === 'string') return { refused: both };
    // NUL cannot occur in a segment (refused in interpret), so it separates segments unambiguously.
    for (const reading of both) readings.set(reading.join('\u0000'), reading);
    const rounds = decodes.get(form)!;
    const next: Array<[string, number]> = [];
    if (form.includes(';')) next.push([withoutParameters(form), rounds], [form.split(';', 1)[0]!, rounds]);
    if (form.includes('\\')) next.push([form.replaceAll('\\', '/'), rounds]);
    if (form.includes('%')) {
      const decoded = decodeLeniently(form);
      if (decoded === undefined) return { refused: 'undecodable' };
      if (decoded !== form) {
        if (rounds >= MAX_EXTRA_DECODES) return { refused: 'too_complex' };
        next.push([decoded, rounds + 1]);
      }
    }
    for (const [candidate, candidateRounds] of next) {
      if (decodes.has(candidate)) continue;
      decodes.set(candidate, candidateRounds);
      queue.push(candidate);
    }
  }
  return { readings: [...readings.values()] };
}

/**
 * Classifies a request path and method under each of the path's readings
 * ({@link readPath}) into the configuration's routes (see `routeTable`).
 */
export function classifyPath(config: KenniEdgeConfig, pathname: string, method: string): PathClassification {
  const result = readPath(pathname);
  if ('refused' in result) return { readings: [], agreed: undefined, reason: result.refused };
  const table = routeTable(config);
  const readings = result.readings.map((segments) => ({ segments, route: table.match(segments, method) }));
  const first = readings[0]!.route;
  if (readings.every((reading) => reading.route === first)) return { readings, agreed: first };
  return { readings, agreed: undefined, reason: 'readings_differ' };
}

/**
 * Two servers' readings of `form`: split on `/`, each segment decoded once, dot
 * segments resolved, runs of `/` merged first or not. A string when the
 * readings cannot be used.
 */
function interpret(form: string): [readonly string[], readonly string[]] | Exclude<AmbiguityReason, 'readings_differ'> {
  // Decoding once yields a control character exactly when the text holds one or its %XX.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]|%[01][0-9a-f]|%7f/i.test(form)) return 'control_character';
  const decoded: string[] = [];
  for (const part of (form.startsWith('/') ? form.slice(1) : form).split('/')) {
    const segment = decodeLeniently(part);
    if (segment === undefined) return 'undecodable';
    decoded.push(segment);
  }
  const merged = resolveDotSegments(decoded, true);
  const unmerged = resolveDotSegments(decoded, false);
  if (merged === undefined || unmerged === undefined) return 'escapes_root';
  return [merged, unmerged];
}

/**
 * Resolves `.` and `..`; `undefined` when a `..` climbs above the root. Without
 * merging, a `..` takes back an empty segment. Empty segments are left out of
 * the result (prefixes match on the others).
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4
 */
function resolveDotSegments(decoded: readonly string[], mergeSlashes: boolean): string[] | undefined {
  const segments: string[] = [];
  for (const segment of decoded) {
    if ((segment === '' && mergeSlashes) || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return undefined;
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return segments.filter((segment) => segment !== '');
}

/** Removes a `;` parameter from every segment, as servlet containers do. */
function withoutParameters(form: string): string {
  return form.replace(/;[^/]*/g, '');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Percent-decodes once, as UTF-8. A `%` without two hex digits stays as it is
 * (lenient servers keep it, strict ones refuse the request); bytes that are
 * not UTF-8 make the text undecodable.
 */
function decodeLeniently(text: string): string | undefined {
  if (!text.includes('%')) return text;
  try {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      const bytes = new Uint8Array(run.length / 3);
      let ascii = true;
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
        if (bytes[i]! >= 0x80) ascii = false;
      }
      return ascii ? String.fromCharCode(...bytes) : UTF8.decode(bytes);
    });
  } catch {
    return undefined;
  }
}
