/**
 * Forwarding to the origin: method, path, query and a streamed body (never
 * buffered), WebSocket upgrades, hop-by-hop headers removed, `X-Forwarded-*`
 * set by the edge, spoofed identity headers and the edge's own cookies
 * stripped. The origin's answer passes through unchanged, except that it may
 * not overwrite the edge's cookies.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
import { AppError } from '../errors.ts';
import { isEdgeCookieName } from '../session/cookies.ts';

/** Headers that belong to one connection and are never forwarded. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** Identity header names as the edge sets them. */
export const IDENTITY_HEADERS = Object.freeze({
  sub: 'X-Kenni-Sub',
  nationalId: 'X-Kenni-National-Id',
  name: 'X-Kenni-Name',
  assertion: 'X-Kenni-Assertion',
  scope: 'X-Kenni-Scope',
  auth: 'X-Kenni-Auth',
});

/**
 * Encodes an identity value for a header, losslessly: printable ASCII without
 * `%` is sent as it is, anything else as percent-encoded UTF-8. So
 * `decodeURIComponent(header)` always gives the value back.
 */
export function encodeIdentityValue(value: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** True for any header of the identity family, in any case, with `-` or `_`. */
export function isIdentityHeaderName(name: string): boolean {
  return /^x[-_]kenni[-_]/i.test(name);
}

/** What to add to a forwarded request. */
export interface ForwardOptions {
  origin: URL;
  timeoutMs: number;
  /** Identity headers to set (already encoded); none for public paths. */
  identity?: Record<string, string>;
  /** Replaces `Authorization` (the session's access token on API paths). */
  authorization?: string;
}

/**
 * Sends the request to the origin and returns its response. Origin unreachable:
 * `origin_unreachable` (502); no response headers within the timeout: `origin_timeout` (504).
 */
export async function forwardToOrigin(request: Request, options: ForwardOptions): Promise<Response> {
  const incoming = new URL(request.url);
  const target = new URL(options.origin.href);
  target.pathname = `${options.origin.pathname.replace(/\/$/, '')}${incoming.pathname}`;
  target.search = incoming.search;

  const headers = forwardedHeaders(request, incoming, options);
  const upgrade = request.headers.get('upgrade');
  const isWebSocket = upgrade !== null && upgrade.toLowerCase() === 'websocket';
  if (isWebSocket) headers.set('upgrade', 'websocket');

  // The timeout covers waiting for the response head only; a long download or upload keeps streaming.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  let response: Response;
  try {
    response = await fetch(target.href, {
      method: request.method,
      headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? null : request.body,
      redirect: 'manual',
      signal: controller.signal,
    });
  } catch (cause) {
    if (timedOut) throw new AppError('origin_timeout', 504, 'The application did not answer in time.', { cause });
    throw new AppError('origin_unreachable', 502, 'The application behind the sign-in could not be reached.', { cause });
  } finally {
    clearTimeout(timer);
  }
  if (isWebSocket && response.status === 101) return response;
  return withoutEdgeCookieOverwrites(response);
}

function forwardedHeaders(request: Request, incoming: URL, options: ForwardOptions): Headers {
  const headers = new Headers();
  const connectionListed = new Set((request.headers.get('connection') ?? '').toLowerCase().split(',').map((name) => name.trim()).filter(Boolean));
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.includes(lower) || connectionListed.has(lower)) continue;
    if (isIdentityHeaderName(lower)) continue; // never trust the client's own
    // `x_forwarded_for` too: CGI/WSGI servers read it as X-Forwarded-For, as they read x_kenni_* as X-Kenni-*.
    if (/^x[-_]forwarded[-_]/.test(lower) || lower === 'forwarded' || lower === 'host') continue;
    if (lower === 'cookie') {
      const kept = withoutEdgeCookies(value);
      if (kept) headers.set('cookie', kept);
      continue;
    }
    headers.append(name, value);
  }
  const clientIp = request.headers.get('cf-connecting-ip');
  if (clientIp) headers.set('x-forwarded-for', clientIp);
  headers.set('x-forwarded-proto', incoming.protocol.replace(':', ''));
  headers.set('x-forwarded-host', incoming.host);
  if (options.authorization) headers.set('authorization', options.authorization);
  for (const [name, value] of Object.entries(options.identity ?? {})) headers.set(name, value);
  return headers;
}

/**
 * The `Cookie` header without the edge's own cookies; the other pairs as sent
 * (nameless ones included), and the header untouched when it has no edge cookie.
 */
function withoutEdgeCookies(header: string): string | undefined {
  const pairs = header.split(';');
  const isEdgePair = (pair: string) => pair.includes('=') && isEdgeCookieName(pair.slice(0, pair.indexOf('=')).trim());
  if (!pairs.some(isEdgePair)) return header;
  const kept = pairs.filter((pair) => !isEdgePair(pair)).map((pair) => pair.trim()).filter(Boolean);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/** Response headers that belong to the origin's connection, not to the client's. */
const HOP_BY_HOP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * The origin's response for the client: `Set-Cookie` headers that would set or
 * clear one of the edge's cookies are dropped, and so are hop-by-hop headers.
 * Untouched (no copy) in the common case where there is nothing to drop.
 */
function withoutEdgeCookieOverwrites(response: Response): Response {
  const cookies = response.headers.getSetCookie();
  const overwritesEdgeCookie = cookies.some((cookie) => isEdgeCookieName(cookie.split('=', 1)[0]!.trim()));
  const hopByHop = HOP_BY_HOP_RESPONSE.filter((name) => response.headers.has(name));
  if (!overwritesEdgeCookie && hopByHop.length === 0) return response;
  const passthrough = new Response(response.body, response);
  for (const name of hopByHop) passthrough.headers.delete(name);
  if (overwritesEdgeCookie) {
    passthrough.headers.delete('set-cookie');
    for (const cookie of cookies) if (!isEdgeCookieName(cookie.split('=', 1)[0]!.trim())) passthrough.headers.append('set-cookie', cookie);
  }
  return passthrough;
}
