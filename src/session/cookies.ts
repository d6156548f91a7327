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
 * Parses a `Cookie` header into name/value pairs, in order. Values are kept
 * as sent (the edge's own values are base64url and need no decoding).
 */
export function parseCookieHeader(header: string | null | undefined): Array<[string, string]> {
  if (!header) return [];
  const pairs: Array<[string, string]> = [];
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index <= 0) continue;
    pairs.push([part.slice(0, index).trim(), part.slice(index + 1).trim()]);
  }
  return pairs;
}

/** The first value of the named cookie, if present. */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header || !header.includes(name)) return undefined;
  return parseCookieHeader(header).find(([cookieName]) => cookieName === name)?.[1];
}
