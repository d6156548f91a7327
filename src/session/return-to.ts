/**
 * Validation of the `return_to` login parameter: only a same-origin relative
 * path is accepted; anything else falls back to `/`. This closes open redirects
 * through `//host`, `/\host`, schemes, control characters and their encoded forms.
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Unvalidated_Redirects_and_Forwards_Cheat_Sheet.html
 */

const FALLBACK = '/';
const PROBE_ORIGIN = 'https://return-to.invalid';

/**
 * The longest `return_to` kept, in characters of its stored form (after URL
 * normalisation, which percent-encodes non-ASCII: `é` becomes `%C3%A9`). It is
 * ASCII, so the sealed login cookie stays well under the 4096 bytes browsers keep.
 */
export const MAX_RETURN_TO_LENGTH = 2048;

/**
 * Returns the normalised form of `raw` (path and query, percent-encoded as a
 * browser would send it) when it is a safe same-origin path of at most
 * {@link MAX_RETURN_TO_LENGTH} characters, else `/`.
 */
export function sanitizeReturnTo(raw: string | null | undefined): string {
  // The raw bound only caps the work; the binding bound is on the normalised form below.
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4 * MAX_RETURN_TO_LENGTH) return FALLBACK;
  if (!isLocalInEveryDecoding(raw)) return FALLBACK;
  let resolved: URL;
  try {
    resolved = new URL(raw, PROBE_ORIGIN);
  } catch {
    return FALLBACK;
  }
  if (resolved.origin !== PROBE_ORIGIN) return FALLBACK;
  const path = `${resolved.pathname}${resolved.search}`;
  if (path.length > MAX_RETURN_TO_LENGTH) return FALLBACK;
  // Dot segments can collapse into "//host" ("/.//evil", "/a/..//evil"): check what the browser will get, too.
  if (!isLocalInEveryDecoding(path)) return FALLBACK;
  // Never send a user back into the auth routes: that is how redirect loops start.
  // The router decodes the path, so "/%61uth/login" is /auth/login too.
  const routed = decodeURIComponent(resolved.pathname);
  if (routed === '/auth' || routed.startsWith('/auth/')) return FALLBACK;
  return path;
}

/** Checks the value and every percent-decoded form of it, so "%2F%2Fevil" or "%5Cevil" cannot slip through. */
function isLocalInEveryDecoding(value: string): boolean {
  let candidate = value;
  for (let round = 0; round < 4; round++) {
    if (!looksLikeLocalPath(candidate)) return false;
    let decoded: string;
    try {
      decoded = decodeURIComponent(candidate);
    } catch {
      return false;
    }
    if (decoded === candidate) return true;
    candidate = decoded;
  }
  return looksLikeLocalPath(candidate);
}

function looksLikeLocalPath(value: string): boolean {
  if (!value.startsWith('/')) return false;
  if (value.startsWith('//')) return false;
  // Browsers treat "\" like "/", and strip tabs and newlines from URLs.
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value)) return false;
  return true;
}
