/**
 * Forwarding to the origin: method, path, query and a streamed body (never
 * buffered), WebSocket upgrades, hop-by-hop headers removed, `X-Forwarded-*`
 * set by the edge. Whatever the origin could read as another URL, method,
 * client address or identity is dropped: spoofed identity headers, routing
 * and method-override headers, the edge's own cookies, and the client's
 * `Authorization` unless the caller keeps it. A CORS preflight goes bare. A
 * request that carries identity is never stored in Cloudflare's cache. The
 * answer is filtered by {@link responseForClient}.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
import { AppError } from '../errors.ts';
import { isEdgeCookieName } from '../session/cookies.ts';
import { responseForClient } from './origin-response.ts';

/** Headers that belong to one connection and are never forwarded. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Identity header names as the edge sets them. */
export const IDENTITY_HEADERS = Object.freeze({
  sub: 'X-Kenni-Sub',
  nationalId: 'X-Kenni-National-Id',
  name: 'X-Kenni-Name',
  assertion: 'X-Kenni-Assertion',
  scope: 'X-Kenni-Scope',
  auth: 'X-Kenni-Auth',
  /** `person` or `company`, from the subject's kennitala; absent when it tells nothing. */
  subjectKind: 'X-Kenni-Subject-Kind',
  /** Delegated requests only: the person acting for the subject. */
  actorNationalId: 'X-Kenni-Actor-National-Id',
  actorName: 'X-Kenni-Actor-Name',
  actorSub: 'X-Kenni-Actor-Sub',
  delegationType: 'X-Kenni-Delegation-Type',
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

/**
 * Headers origins (or the frameworks and CGI layers in front of them) read as
 * the request's URL, method, host, client address or outgoing proxy; compared
 * in lower case with `_` read as `-`. Every `x-forwarded-*` too.
 */
const ROUTING_HEADERS = new Set([
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-host',
  'x-host',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'forwarded',
  'x-real-ip',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'x-cluster-client-ip',
  'proxy', // httpoxy: CGI turns it into HTTP_PROXY
]);

/** True for a header that could make the origin route on something else, in any case, with `-` or `_`. */
export function isRoutingHeaderName(name: string): boolean {
  const normalized = name.toLowerCase().replace(/_/g, '-');
  return ROUTING_HEADERS.has(normalized) || normalized === 'x-forwarded' || normalized.startsWith('x-forwarded-');
}

/** The only client headers a CORS preflight takes to the origin: what the browser's preflight is made of, and its trace context. */
const PREFLIGHT_HEADERS =
  /^(origin|access-control-request-[a-z-]+|sec-fetch-[a-z]+|accept|accept-language|user-agent|referer|traceparent|tracestate)$/;

/** What to add to a forwarded request. */
export interface ForwardOptions {
  origin: URL;
  timeoutMs: number;
  /** Identity headers to set (already encoded); none for public paths. */
  identity?: Record<string, string>;
  /** `Authorization` to send: the session's access token, or the client's own header once verified. */
  authorization?: string;
  /** Pass the client's own `Authorization` as sent (public paths); otherwise it is dropped unless `authorization` is given. */
  keepClientAuthorization?: boolean;
  /** A CORS preflight: forwarded bare (no body, no credentials, only the preflight's own headers). */
  preflight?: boolean;
}

/** The subrequest {@link forwardToOrigin} sends, built without side effects. */
export interface OriginRequest {
  /** The target: `ORIGIN_URL`'s base path, then the request's path and query as received. */
  url: string;
  /** Method, filtered headers, body, `redirect: 'manual'`, and `cache: 'no-store'` when it carries identity. */
  init: RequestInit;
  /** Identity headers or an `Authorization` go to the origin: the answer is one user's. */
  carriesIdentity: boolean;
  /** A WebSocket upgrade (never for a preflight). */
  isWebSocket: boolean;
}

/**
 * Builds the origin subrequest for `request`: the target URL under
 * `ORIGIN_URL`, the filtered headers, the body (none for GET, HEAD and
 * preflights) and `cache: 'no-store'` when it carries identity.
 */
export function buildOriginRequest(request: Request, options: Omit<ForwardOptions, 'timeoutMs'>): OriginRequest {
  const incoming = new URL(request.url);
  const target = new URL(options.origin.href);
  target.pathname = `${options.origin.pathname.replace(/\/$/, '')}${incoming.pathname}`;
  target.search = incoming.search;

  const headers = forwardedHeaders(request, incoming, options);
  const upgrade = request.headers.get('upgrade');
  const isWebSocket = !options.preflight && upgrade !== null && upgrade.toLowerCase() === 'websocket';
  if (isWebSocket) headers.set('upgrade', 'websocket');
  const carriesIdentity = Object.keys(options.identity ?? {}).length > 0 || headers.has('authorization');
  const noBody = options.preflight || request.method === 'GET' || request.method === 'HEAD';
  const init: RequestInit = {
    method: request.method,
    headers,
    body: noBody ? null : request.body,
    redirect: 'manual',
    // Cloudflare's cache keys on the URL, not on who asked: one user's answer must never be stored there.
    ...(carriesIdentity ? { cache: 'no-store' as const } : {}),
  };
  return { url: target.href, init, carriesIdentity, isWebSocket };
}

/**
 * Sends the request to the origin and returns its response. Origin unreachable:
 * `origin_unreachable` (502); no response headers within the timeout: `origin_timeout` (504).
 */
export async function forwardToOrigin(request: Request, options: ForwardOptions): Promise<Response> {
  const { url, init, carriesIdentity } = buildOriginRequest(request, options);
  // The timeout covers waiting for the response head only; a long download or upload keeps streaming.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal });
  } catch (cause) {
    if (timedOut) throw new AppError('origin_timeout', 'The application did not answer in time.', { cause });
    throw new AppError('origin_unreachable', 'The application behind the sign-in could not be reached.', { cause });
  } finally {
    clearTimeout(timer);
  }
  return responseForClient(response, carriesIdentity);
}

function forwardedHeaders(request: Request, incoming: URL, options: Omit<ForwardOptions, 'timeoutMs'>): Headers {
  const headers = new Headers();
  const connectionListed = new Set(
    (request.headers.get('connection') ?? '')
      .toLowerCase()
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (options.preflight && !PREFLIGHT_HEADERS.test(lower)) continue;
    if (HOP_BY_HOP.includes(lower) || connectionListed.has(lower)) continue;
    if (isIdentityHeaderName(lower)) continue; // never trust the client's own
    // `x_forwarded_for` too: CGI/WSGI servers read it as X-Forwarded-For, as they read x_kenni_* as X-Kenni-*.
    if (isRoutingHeaderName(lower) || lower === 'host') continue;
    if (lower === 'authorization' && !options.keepClientAuthorization) continue;
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
  if (options.preflight) return headers;
  if (options.authorization) headers.set('authorization', options.authorization);
  for (const [name, value] of Object.entries(options.identity ?? {})) headers.set(name, value);
  return headers;
}

/**
 * The `Cookie` header without the edge's own cookies; the other pairs as sent
 * (nameless ones included), and the header untouched when it has no edge cookie.
 * Pairs are split on `;` and on `,` too: two `Cookie` fields folded into one
 * arrive joined by `, `, and servers that split there must not find an edge cookie.
 */
function withoutEdgeCookies(header: string): string | undefined {
  const parts = header.split(';');
  if (!parts.some((part) => part.split(',').some(namesEdgeCookie))) return header;
  const kept = parts
    .map((part) =>
      part
        .split(',')
        .filter((piece) => !namesEdgeCookie(piece))
        .join(',')
        .trim(),
    )
    .filter(Boolean);
  return kept.length > 0 ? kept.join('; ') : undefined;
}

/**
 * True when a `;`/`,`-separated piece names an edge cookie at its start or
 * after whitespace (lenient parsers read `a=1 __Host-kenni-session=x` as two
 * cookies). The whole piece is dropped then: stripping too much beats leaking.
 */
function namesEdgeCookie(piece: string): boolean {
  for (const match of piece.matchAll(/(?:^|\s)([^\s=]+)\s*=/g)) if (isEdgeCookieName(match[1]!)) return true;
  return false;
}
