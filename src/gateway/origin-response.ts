/**
 * The origin's answer as the client gets it. It passes through unchanged
 * except where it could touch the edge's own state or leak one user's answer
 * to another: `Set-Cookie` for an edge cookie and the `cookies` / `*` of
 * `Clear-Site-Data` are dropped (a WebSocket `101` included), hop-by-hop
 * headers stay behind, and an answer to a request that carried identity is
 * made `private` for every shared cache.
 * @see https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.7
 * @see https://www.w3.org/TR/clear-site-data/
 */
import { isEdgeCookieName } from '../session/cookies.ts';

/** Response headers that belong to the origin's connection, not to the client's. */
const HOP_BY_HOP_RESPONSE = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Cache fields aimed at CDNs only; they override `Cache-Control` there (RFC 9213). */
const CDN_CACHE_FIELDS = ['cdn-cache-control', 'cloudflare-cdn-cache-control', 'surrogate-control'];

/** `Cache-Control` directives that only shared caches read, meaningless once the answer is private. */
const SHARED_ONLY_DIRECTIVES = new Set(['s-maxage', 'proxy-revalidate']);

/**
 * The origin's response for the client. `carriesIdentity`: the forwarded
 * request carried identity headers or an `Authorization`, so the answer is
 * one user's. Untouched (no copy) when there is nothing to change.
 */
export function responseForClient(response: Response, carriesIdentity: boolean): Response {
  // Copied (status, headers, body, a 101's socket) only once something has to change.
  let copy: Response | undefined;
  const edit = (): Headers => (copy ??= new Response(response.body, response)).headers;
  const source = response.headers;

  const cookies = source.getSetCookie();
  if (cookies.some(setsEdgeCookie)) {
    const headers = edit();
    headers.delete('set-cookie');
    for (const cookie of cookies) if (!setsEdgeCookie(cookie)) headers.append('set-cookie', cookie);
  }
  const clearSiteData = source.get('clear-site-data');
  const keptClearing = clearSiteData === null ? null : withoutCookieClearing(clearSiteData);
  if (keptClearing !== clearSiteData) {
    if (keptClearing) edit().set('clear-site-data', keptClearing);
    else edit().delete('clear-site-data');
  }
  // A 101's Connection / Upgrade belong to the handshake the runtime completes; it has no cacheable body.
  if (response.status === 101) return copy ?? response;

  for (const name of HOP_BY_HOP_RESPONSE) if (source.has(name)) edit().delete(name);
  if (carriesIdentity) {
    const cacheControl = privateCacheControl(source.get('cache-control'));
    if (cacheControl !== undefined) edit().set('cache-control', cacheControl);
    for (const name of CDN_CACHE_FIELDS) if (source.has(name)) edit().delete(name);
  }
  return copy ?? response;
}

/**
 * The name a browser files a `Set-Cookie` under, as it will send it back: a
 * nameless cookie (`=__Host-kenni-session=x`, or no `=` at all) is sent as its
 * bare value, which reads as `name=value` again.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-5.2
 */
function returnedCookieName(setCookie: string): string {
  const pair = setCookie.split(';', 1)[0]!;
  const equals = pair.indexOf('=');
  const name = equals === -1 ? '' : pair.slice(0, equals).trim();
  if (name) return name;
  const value = equals === -1 ? pair : pair.slice(equals + 1);
  const inner = value.indexOf('=');
  return (inner === -1 ? value : value.slice(0, inner)).trim();
}

function setsEdgeCookie(setCookie: string): boolean {
  return isEdgeCookieName(returnedCookieName(setCookie));
}

/**
 * `Clear-Site-Data` without `"cookies"` and `"*"` (which would clear the edge's
 * cookies too), in any case, quoted or not; the other directives as sent. The
 * value itself when nothing is removed, `undefined` when nothing is left.
 */
export function withoutCookieClearing(value: string): string | undefined {
  const directives = value
    .split(',')
    .map((directive) => directive.trim())
    .filter(Boolean);
  const kept = directives.filter(
    (directive) => !['cookies', '*'].includes(directive.replace(/^"|"$/g, '').trim().toLowerCase()),
  );
  if (kept.length === directives.length) return value;
  return kept.length > 0 ? kept.join(', ') : undefined;
}

/**
 * `Cache-Control` for an answer that is one user's: `public` becomes
 * `private`, `s-maxage` and `proxy-revalidate` are dropped, and `private` is
 * added unless the origin already said `private` or `no-store` (no header at
 * all gives `private`). `undefined` when the origin's value stands as it is.
 * @see https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.7
 */
export function privateCacheControl(value: string | null): string | undefined {
  if (value === null || value.trim() === '') return 'private';
  // Directives split on commas outside quoted strings (`no-cache="a, b"`).
  const directives = (value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? [])
    .map((directive) => directive.trim())
    .filter(Boolean);
  const result: string[] = [];
  let changed = false;
  let isPrivate = false;
  for (const directive of directives) {
    const name = directive.split('=', 1)[0]!.trim().toLowerCase();
    if (SHARED_ONLY_DIRECTIVES.has(name)) {
      changed = true;
      continue;
    }
    if (name === 'public' || name === 'private') {
      // `private="field"` still lets a shared cache store the rest: make it plain `private`.
      if (directive !== 'private') changed = true;
      if (!isPrivate) result.push('private');
      isPrivate = true;
      continue;
    }
    if (name === 'no-store') isPrivate = true;
    result.push(directive);
  }
  if (!isPrivate) {
    result.push('private');
    changed = true;
  }
  return changed ? result.join(', ') : undefined;
}
