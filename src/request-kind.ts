/**
 * What kind of request this is, from the browser's own signals: a page
 * navigation (which may be redirected to login) or a programmatic call (which
 * gets JSON), and whether it comes from another site.
 * @see https://www.w3.org/TR/fetch-metadata/
 */

/**
 * True for a top-level page navigation: `Sec-Fetch-Mode: navigate` with a
 * document destination, or, without Fetch Metadata, a GET that accepts HTML.
 */
export function isPageNavigation(request: Request): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const mode = request.headers.get('sec-fetch-mode');
  if (mode) {
    const dest = request.headers.get('sec-fetch-dest');
    return (
      mode === 'navigate' &&
      (dest === null || dest === 'document' || dest === 'empty' || dest === 'iframe' || dest === 'frame')
    );
  }
  if (request.headers.get('x-requested-with')) return false;
  const accept = request.headers.get('accept') ?? '';
  return /\btext\/html\b/i.test(accept);
}

/**
 * True when the request comes from another site: `Sec-Fetch-Site` other than
 * `same-origin`/`none`, or an `Origin` that differs from ours.
 */
export function isCrossSiteRequest(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== new URL(request.url).origin) return true;
  return false;
}

/** True for methods that may change state (everything but GET, HEAD, OPTIONS). */
export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/**
 * True only when the browser says the request comes from our own pages or the
 * user themself (`Sec-Fetch-Site: same-origin` or `none`), or, from a browser
 * without Fetch Metadata, a same-origin `Referer`. Used where a GET changes
 * state (logout), since `SameSite=Lax` cookies ride along on cross-site links.
 */
export function isSameOriginNavigation(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site) return site === 'same-origin' || site === 'none';
  const origin = new URL(request.url).origin;
  const referer = request.headers.get('referer');
  if (!referer) return false;
  try {
    return new URL(referer).origin === origin;
  } catch {
    return false;
  }
}
