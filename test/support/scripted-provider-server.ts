/**
 * The scripted ("hostile") OpenID provider: a tiny HTTP server that answers
 * whatever a test tells it to, so tests can make a provider misbehave on
 * request (wrong claims, bad signatures, 5xx, hanging or reset connections)
 * and count the requests it received.
 *
 * Runs in Node, started once by the Vitest global setup; tests talk to it from
 * inside workerd through `test/support/scripted-provider.ts`. Everything under
 * `/<tenant>/…` belongs to one tenant, so test files running in parallel never
 * share state.
 *
 * Control API (JSON):
 * - `PUT /__control/<tenant>/routes` with `{ "<METHOD> <path>": Reply | Reply[] }`
 *   merges routes (`path` is the full path, starting with `/<tenant>/`, matched
 *   without the query string). An array is a queue: each request takes the
 *   next reply, the last one repeats.
 * - `GET /__control/<tenant>/requests` lists the tenant's recorded requests.
 * - `DELETE /__control/<tenant>` forgets the tenant's routes and recordings.
 *
 * Only `node:http` is used. The project type-checks for workerd and has no
 * `@types/node`, so the few Node shapes used here are declared locally.
 */
// @ts-ignore -- `@types/node` is deliberately not installed (the project type-checks for workerd).
import * as nodeHttp from 'node:http';

/**
 * One scripted answer. With neither `json` nor `body` the response is empty.
 */
export interface Reply {
  /** HTTP status, 200 by default. */
  status?: number;
  /** Response headers; `content-type: application/json` is added for `json` unless set here. */
  headers?: Record<string, string>;
  /** Raw response body. */
  body?: string;
  /** A JSON response body (takes precedence over `body`). */
  json?: unknown;
  /** Never answer: the socket stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Reset the connection instead of answering. */
  destroy?: boolean;
  /** Wait this many milliseconds before answering (for overlapping concurrent requests). */
  delayMs?: number;
}

/** A request the provider received, as recorded by the server. */
export interface RecordedRequestWire {
  /** Upper-case HTTP method. */
  method: string;
  /** The full path, starting with `/<tenant>/`, without the query string. */
  path: string;
  /** Query parameters (the last value wins for a repeated name; see `search`). */
  query: Record<string, string>;
  /** The raw query string including `?`, or `''`. */
  search: string;
  /** Request headers with lower-case names (repeated headers joined with `, `). */
  headers: Record<string, string>;
  /** The request body as UTF-8 text (`''` when there was none). */
  body: string;
}

/** A running scripted provider server. */
export interface ScriptedProviderServer {
  /** Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  url: string;
  /** Stops listening and ends every open socket, hung ones included. */
  close(): Promise<void>;
}

// Minimal local shapes of the Node APIs used below.
interface NodeSocket {
  destroy(error?: Error): void;
  once(event: 'close', listener: () => void): void;
  setNoDelay?(noDelay?: boolean): void;
}
interface IncomingMessage {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  socket: NodeSocket;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'close', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}
interface ServerResponse {
  statusCode: number;
  headersSent: boolean;
  writableEnded: boolean;
  setHeader(name: string, value: string): void;
  end(body?: string): void;
  once(event: 'close', listener: () => void): void;
}
interface HttpServer {
  listen(port: number, host: string, callback: () => void): void;
  address(): { port: number } | string | null;
  on(event: 'connection', listener: (socket: NodeSocket) => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  close(callback: (error?: Error) => void): void;
  closeAllConnections?(): void;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
}
type CreateServer = (listener: (req: IncomingMessage, res: ServerResponse) => void) => HttpServer;

interface RouteState {
  replies: Reply[];
  next: number;
}

interface TenantState {
  routes: Map<string, RouteState>;
  requests: RecordedRequestWire[];
}

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;
const CONTROL_SEGMENT = '__control';

/**
 * Starts the scripted provider on `127.0.0.1`, on a free port.
 *
 * @returns the base URL and a `close()` that also ends hung sockets, so Vitest never hangs.
 */
export async function startScriptedProviderServer(): Promise<ScriptedProviderServer> {
  const tenants = new Map<string, TenantState>();
  const sockets = new Set<NodeSocket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const tenantState = (tenant: string): TenantState => {
    let state = tenants.get(tenant);
    if (!state) {
      state = { routes: new Map(), requests: [] };
      tenants.set(tenant, state);
    }
    return state;
  };

  const createServer = (nodeHttp as unknown as { createServer: CreateServer }).createServer;
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => handle(req, res, body),
      () => req.socket.destroy(),
    ).catch((error: unknown) => {
      // A bug in the harness itself: answer 500 rather than leaving the test hanging.
      if (!res.headersSent && !res.writableEnded) {
        sendJson(res, 500, { error: 'scripted_provider_failure', message: String(error) });
      } else {
        req.socket.destroy();
      }
    });
  });
  // Hung replies must not be cut short by Node's own timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.setNoDelay?.(true);
    socket.once('close', () => sockets.delete(socket));
  });

  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://scripted.invalid');
    const path = url.pathname;
    const segments = path.split('/');
    const first = segments[1] ?? '';

    if (first === CONTROL_SEGMENT) {
      handleControl(method, segments.slice(2), body, res);
      return;
    }
    if (!TENANT_PATTERN.test(first)) {
      sendJson(res, 404, { error: 'no_tenant', message: `no tenant in path ${path}` });
      return;
    }

    const state = tenantState(first);
    state.requests.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      search: url.search,
      headers: flattenHeaders(req.headers),
      body,
    });

    const route = state.routes.get(`${method} ${path}`);
    if (!route || route.replies.length === 0) {
      sendJson(res, 404, { error: 'no_route', method, path });
      return;
    }
    const reply = route.replies[Math.min(route.next, route.replies.length - 1)]!;
    route.next += 1;
    const answer = () => sendReply(req, res, reply);
    if (reply.delayMs && reply.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, reply.delayMs);
      timers.add(timer);
    } else {
      answer();
    }
  }

  function handleControl(method: string, rest: string[], body: string, res: ServerResponse): void {
    const tenant = rest[0] ?? '';
    const action = rest.slice(1).join('/');
    if (!TENANT_PATTERN.test(tenant)) {
      sendJson(res, 400, { error: 'bad_tenant', message: `invalid tenant name: ${JSON.stringify(tenant)}` });
      return;
    }
    if (method === 'PUT' && action === 'routes') {
      let routes: unknown;
      try {
        routes = JSON.parse(body);
      } catch {
        sendJson(res, 400, { error: 'bad_json', message: 'the routes body is not JSON' });
        return;
      }
      if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
        sendJson(res, 400, { error: 'bad_routes', message: 'expected an object { "<METHOD> <path>": Reply | Reply[] }' });
        return;
      }
      const parsed = new Map<string, RouteState>();
      for (const [key, value] of Object.entries(routes)) {
        const match = /^([A-Za-z]+) (\/\S*)$/.exec(key);
        const routePath = match?.[2];
        if (!match || !routePath || !(routePath === `/${tenant}` || routePath.startsWith(`/${tenant}/`))) {
          sendJson(res, 400, {
            error: 'bad_route_key',
            message: `route key ${JSON.stringify(key)} must look like "GET /${tenant}/path"`,
          });
          return;
        }
        const replies = (Array.isArray(value) ? value : [value]) as Reply[];
        if (replies.some((reply) => typeof reply !== 'object' || reply === null)) {
          sendJson(res, 400, { error: 'bad_reply', message: `every reply of ${key} must be an object` });
          return;
        }
        parsed.set(`${match[1]!.toUpperCase()} ${routePath}`, { replies, next: 0 });
      }
      const state = tenantState(tenant);
      for (const [key, route] of parsed) state.routes.set(key, route);
      sendJson(res, 200, { routes: [...state.routes.keys()] });
      return;
    }
    if (method === 'GET' && action === 'requests') {
      sendJson(res, 200, tenants.get(tenant)?.requests ?? []);
      return;
    }
    if (method === 'DELETE' && action === '') {
      tenants.delete(tenant);
      sendJson(res, 200, { reset: tenant });
      return;
    }
    sendJson(res, 404, { error: 'no_control_route', method, action });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('scripted provider: no TCP address');

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections?.();
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closing;
    },
  };
}

function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  if (reply.destroy) {
    const socket = req.socket as NodeSocket & { resetAndDestroy?: () => void };
    if (socket.resetAndDestroy) socket.resetAndDestroy();
    else socket.destroy();
    return;
  }
  // Keep the socket: it ends when the client aborts or when close() destroys it.
  if (reply.hang) return;

  const headers: Record<string, string> = { ...reply.headers };
  let body = reply.body ?? '';
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
  }
  res.statusCode = reply.status ?? 200;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(value));
}

function flattenHeaders(headers: IncomingMessage['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let length = 0;
      for (const chunk of chunks) length += chunk.byteLength;
      const all = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      resolve(new TextDecoder().decode(all));
    });
    req.on('error', reject);
  });
}
