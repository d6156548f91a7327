/**
 * The edge's cookies. The session cookie carries only an opaque random id; the
 * login-transaction cookies carry sealed, short-lived state. All are `__Host-`
 * prefixed: `Secure`, `Path=/`, no `Domain`.
 * @see https://www.rfc-editor.org/rfc/rfc6265bis#name-the-__host-prefix
 */

/** Name of the session cookie (contract). */
export const SESSION_COOKIE = '__Host-kenni-session';
/** Prefix of the per-login transaction cookies (one per concurrent login). */
export const LOGIN_COOKIE_PREFIX = '__Host-kenni-login-';

/** True for any cookie name the edge owns (stripped before forwarding to the origin). */
export function isEdgeCookieName(name: string): boolean {
  // Case-insensitive: browsers match the __Host- prefix in any case.
  const lower = name.toLowerCase();
  return lower === SESSION_COOKIE.toLowerCase() || lower.startsWith(LOGIN_COOKIE_PREFIX.toLowerCase());
}

/** Serialises a `Set-Cookie` value with the attributes every edge cookie uses. */
export function serializeCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
}

/** A `Set-Cookie` value that deletes the named edge cookie. */
export function expireCookie(name: string): string {
  return `${name}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`;
}

/**
 * Parses a `Cookie` header into name/value pairs, in order. Only SP and HTAB
 * (RFC 6265 OWS) are trimmed around a pair: a name with any other character
 * around it (a Unicode space such as U+2000, which browsers send as UTF-8 and
 * workerd decodes) is a different name, so a cookie a sibling subdomain set as
 * `<U+2000>__Host-kenni-session` is never read as the edge's. Values are kept
 * as sent (the edge's own values are base64url and need no decoding).
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-5.2
 */
export function parseCookieHeader(header: string | null | undefined): Array<[string, string]> {
  if (!header) return [];
  const pairs: Array<[string, string]> = [];
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = trimOws(part.slice(0, index));
    if (name) pairs.push([name, trimOws(part.slice(index + 1))]);
  }
  return pairs;
}

/** The value of the first cookie named exactly `name`, if present (see {@link parseCookieHeader}). */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header || !header.includes(name)) return undefined;
  return parseCookieHeader(header).find(([cookieName]) => cookieName === name)?.[1];
}

/** Every cookie whose name starts exactly with `prefix`, in header order. */
export function readCookiesWithPrefix(header: string | null | undefined, prefix: string): Array<[string, string]> {
  return parseCookieHeader(header).filter(([cookieName]) => cookieName.startsWith(prefix));
}

/** Removes SP and HTAB only: `String.prototype.trim` also removes Unicode spaces, which would merge look-alike names. */
function trimOws(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}
