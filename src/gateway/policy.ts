/**
 * Which rule a path falls under: public, API or page. Matching is on the
 * decoded, normalised path only, so `/public/../admin`, `%2e%2e`, encoded
 * slashes, doubled slashes and case tricks cannot make a protected path public.
 */
import type { KenniEdgeConfig } from '../config.ts';

/** The three kinds of gateway path (`/auth/*` is handled before the gateway). */
export type PathClass = 'public' | 'api' | 'page';

/**
 * Normalises a URL pathname for matching: percent-decoding (repeatedly),
 * backslashes as slashes, dot segments resolved, runs of slashes collapsed.
 * `undefined` when the path cannot be decoded (treated as protected).
 */
export function normalizePath(pathname: string): string | undefined {
  let decoded = pathname;
  for (let round = 0; round < 3; round++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return undefined;
    }
    if (next === decoded) break;
    decoded = next;
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return undefined;
  const segments: string[] = [];
  const parts = decoded.replace(/\\/g, '/').split('/');
  parts.forEach((segment, index) => {
    if (segment === '..') segments.pop();
    else if (segment !== '.' && (segment !== '' || index === parts.length - 1)) segments.push(segment);
  });
  return `/${segments.join('/')}`;
}

/**
 * True when `path` is the prefix itself or lies under it, on segment
 * boundaries: `/public` covers `/public` and `/public/x` but not `/publicity`,
 * and `/favicon.ico` does not cover `/favicon.ico.bak`.
 */
function matchesPrefix(path: string, prefix: string): boolean {
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === base || path.startsWith(`${base}/`);
}

/**
 * Classifies a request path. Public only when both the path as the URL parser
 * left it and its decoded form match a public prefix.
 */
export function classifyPath(config: KenniEdgeConfig, pathname: string): PathClass {
  const normalized = normalizePath(pathname);
  if (normalized === undefined) return 'page';
  const raw = pathname.replace(/\/{2,}/g, '/');
  if (config.publicPaths.some((prefix) => matchesPrefix(normalized, prefix)) && config.publicPaths.some((prefix) => matchesPrefix(raw, prefix))) {
    return 'public';
  }
  if (config.apiPaths.some((prefix) => matchesPrefix(normalized, prefix) || matchesPrefix(normalized.toLowerCase(), prefix.toLowerCase()))) return 'api';
  return 'page';
}
