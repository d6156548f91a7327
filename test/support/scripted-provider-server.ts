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
 * - `GET /__control/<tenant>/received?method=POST&path=/<tenant>/x&atLeast=N`
 *   waits (long poll, at most 15 s) until a request to that path, in flight or
 *   finished, has delivered at least `N` body bytes; answers
 *   `{ bytes, done }` (408 with the same shape when the wait ran out). Lets a
 *   test prove that a body is streamed rather than buffered upstream.
 * - `POST /__control/<tenant>/release/<gate>` lets a reply held at `gate`
 *   (see {@link Reply.download}) send the rest of its body.
 * - `GET /__control/<tenant>/closed-port` answers `{ port }`: a port on
 *   127.0.0.1 that was just free and is not listened on (connection refused).
 *
 * WebSocket: an upgrade request to a route scripted with
 * `{ "websocket": "echo" }` gets the RFC 6455 handshake and every text or
 * binary frame echoed back; other upgrade requests get 404. Upgrade requests
 * are recorded like any other.
 *
 * Only `node:http` is used. The project type-checks for workerd and has no
 * `@types/node`, so the few Node shapes used here are declared locally.
 */
// @ts-ignore -- `@types/node` is deliberately not installed (the project type-checks for workerd).
import * as nodeHttp from 'node:http';
// @ts-ignore -- as above.
import * as nodeCrypto from 'node:crypto';
// @ts-ignore -- as above.
import * as nodeNet from 'node:net';

/**
 * One scripted answer. With neither `json` nor `body` the response is empty.
 */
export interface Reply {
  /** HTTP status, 200 by default. */
  status?: number;
  /** Response headers; `content-type: application/json` is added for `json` unless set here. An array sends the header once per value (e.g. several `set-cookie`). */
  headers?: Record<string, string | string[]>;
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
  /**
   * Send the head (status and headers) at once, then these body chunks, each
   * after its own delay: a response whose body arrives slowly.
   */
  chunks?: Array<{ body: string; delayMs?: number }>;
  /**
   * A large generated body of `bytes` bytes, byte `i` being `i % 251` (see
   * {@link patternByte}), written in 64 KiB chunks with backpressure. With
   * `gate`, only the first `holdAfter` bytes (default 64 KiB) are sent until
   * `POST /__control/<tenant>/release/<gate>`.
   */
  download?: { bytes: number; gate?: string; holdAfter?: number };
  /** `"echo"`: accept a WebSocket upgrade on this route and echo every message. */
  websocket?: 'echo';
}

/** Byte `index` of a generated {@link Reply.download} body. */
export function patternByte(index: number): number {
  return index % 251;
}

/** A request the provider received, as recorded by the server. */
export interface RecordedRequestWire {
  /** Upper-case HTTP method. */
  method: string;
  /** The full path, starting with `/<tenant>/`, without the query string. */
  path: string;
  /** The path exactly as it came on the request line (not parsed or normalised), without the query string. */
  rawPath: string;
  /** Query parameters (the last value wins for a repeated name; see `search`). */
  query: Record<string, string>;
  /** The raw query string including `?`, or `''`. */
  search: string;
  /** Request headers with lower-case names (repeated headers joined with `, `). */
  headers: Record<string, string>;
  /** The request body as UTF-8 text (`''` when there was none, and when it was larger than 1 MiB: see `bodyOmitted`). */
  body: string;
  /** The body's length in bytes. */
  bodyLength: number;
  /** Lower-case hex SHA-256 of the body's bytes. */
  bodySha256: string;
  /** True when the body was larger than 1 MiB and is not kept as text. */
  bodyOmitted?: boolean;
}

/** Bodies larger than this are recorded by length and hash only. */
const MAX_RECORDED_BODY = 1024 * 1024;

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
/** A socket handed over by an HTTP upgrade. */
interface UpgradedSocket extends NodeSocket {
  write(data: string | Uint8Array): boolean;
  end(): void;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'error' | 'end', listener: () => void): void;
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
  destroyed: boolean;
  setHeader(name: string, value: string | string[]): void;
  flushHeaders(): void;
  write(chunk: string | Uint8Array): boolean;
  end(body?: string | Uint8Array): void;
  once(event: 'close' | 'drain', listener: () => void): void;
}
interface HttpServer {
  listen(port: number, host: string, callback: () => void): void;
  address(): { port: number } | string | null;
  on(event: 'connection', listener: (socket: NodeSocket) => void): void;
  on(event: 'upgrade', listener: (req: IncomingMessage, socket: UpgradedSocket, head: Uint8Array) => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
  close(callback: (error?: Error) => void): void;
  closeAllConnections?(): void;
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
}
type CreateServer = (listener: (req: IncomingMessage, res: ServerResponse) => void) => HttpServer;
interface NetServer {
  listen(port: number, host: string, callback: () => void): void;
  address(): { port: number } | string | null;
  close(callback: () => void): void;
}
interface Hash {
  update(data: Uint8Array | string): Hash;
  digest(encoding: 'hex' | 'base64'): string;
}

interface RouteState {
  replies: Reply[];
  next: number;
}

/** How much of one request's body has arrived so far. */
interface BodyProgress {
  method: string;
  path: string;
  bytes: number;
  done: boolean;
}

interface Gate {
  released: boolean;
  waiters: Array<() => void>;
}

interface TenantState {
  routes: Map<string, RouteState>;
  requests: RecordedRequestWire[];
  progress: BodyProgress[];
  /** Called on every body chunk of this tenant (long polls of `received`). */
  progressListeners: Set<() => void>;
  gates: Map<string, Gate>;
}

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;
const CONTROL_SEGMENT = '__control';
/** Longest wait of a `received` long poll. */
const RECEIVED_WAIT_MS = 15_000;
const DOWNLOAD_CHUNK = 64 * 1024;
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const createHash = (nodeCrypto as unknown as { createHash(algorithm: string): Hash }).createHash;

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
      state = { routes: new Map(), requests: [], progress: [], progressListeners: new Set(), gates: new Map() };
      tenants.set(tenant, state);
    }
    return state;
  };

  const later = (ms: number, action: () => void): ReturnType<typeof setTimeout> => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
    return timer;
  };

  /** Tracks the body of a request to a tenant route, so tests can watch it arrive. */
  const trackBody = (req: IncomingMessage): ((bytes: number, done: boolean) => void) => {
    const url = new URL(req.url ?? '/', 'http://scripted.invalid');
    const tenant = url.pathname.split('/')[1] ?? '';
    if (tenant === CONTROL_SEGMENT || !TENANT_PATTERN.test(tenant)) return () => {};
    const state = tenantState(tenant);
    const entry: BodyProgress = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      bytes: 0,
      done: false,
    };
    state.progress.push(entry);
    return (bytes, done) => {
      entry.bytes = bytes;
      entry.done = done;
      for (const listener of [...state.progressListeners]) listener();
    };
  };

  const gate = (state: TenantState, name: string): Gate => {
    let found = state.gates.get(name);
    if (!found) {
      found = { released: false, waiters: [] };
      state.gates.set(name, found);
    }
    return found;
  };

  const createServer = (nodeHttp as unknown as { createServer: CreateServer }).createServer;
  const server = createServer((req, res) => {
    readBody(req, trackBody(req))
      .then(
        (body) => handle(req, res, body),
        () => req.socket.destroy(),
      )
      .catch((error: unknown) => {
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
  server.on('upgrade', (req, socket, head) => handleUpgrade(req, socket, head));

  function record(state: TenantState, req: IncomingMessage, url: URL, body: Uint8Array): void {
    const omitted = body.byteLength > MAX_RECORDED_BODY;
    state.requests.push({
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      rawPath: (req.url ?? '/').split('?')[0]!,
      query: Object.fromEntries(url.searchParams),
      search: url.search,
      headers: flattenHeaders(req.headers),
      body: omitted ? '' : new TextDecoder().decode(body),
      bodyLength: body.byteLength,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      ...(omitted ? { bodyOmitted: true } : {}),
    });
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: Uint8Array): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://scripted.invalid');
    const path = url.pathname;
    const segments = path.split('/');
    const first = segments[1] ?? '';

    if (first === CONTROL_SEGMENT) {
      handleControl(method, segments.slice(2), url.searchParams, new TextDecoder().decode(body), res);
      return;
    }
    if (!TENANT_PATTERN.test(first)) {
      sendJson(res, 404, { error: 'no_tenant', message: `no tenant in path ${path}` });
      return;
    }

    const state = tenantState(first);
    record(state, req, url, body);

    const route = state.routes.get(`${method} ${path}`);
    if (!route || route.replies.length === 0) {
      sendJson(res, 404, { error: 'no_route', method, path });
      return;
    }
    const reply = route.replies[Math.min(route.next, route.replies.length - 1)]!;
    route.next += 1;
    const answer = () => sendReply(req, res, reply, state);
    if (reply.delayMs && reply.delayMs > 0) {
      later(reply.delayMs, answer);
    } else {
      answer();
    }
  }

  function handleControl(
    method: string,
    rest: string[],
    query: URLSearchParams,
    body: string,
    res: ServerResponse,
  ): void {
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
        sendJson(res, 400, {
          error: 'bad_routes',
          message: 'expected an object { "<METHOD> <path>": Reply | Reply[] }',
        });
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
    if (method === 'GET' && action === 'received') {
      const state = tenantState(tenant);
      const wantedMethod = (query.get('method') ?? 'POST').toUpperCase();
      const wantedPath = query.get('path') ?? '';
      const atLeast = Number(query.get('atLeast') ?? '1');
      const current = () => {
        const matching = state.progress.filter((entry) => entry.method === wantedMethod && entry.path === wantedPath);
        return matching.find((entry) => entry.bytes >= atLeast) ?? matching.at(-1);
      };
      const answer = (status: number) => {
        const entry = current();
        sendJson(res, status, { bytes: entry?.bytes ?? 0, done: entry?.done ?? false });
      };
      if ((current()?.bytes ?? -1) >= atLeast) {
        answer(200);
        return;
      }
      const listener = () => {
        if ((current()?.bytes ?? -1) < atLeast) return;
        stop();
        answer(200);
      };
      const timer = later(RECEIVED_WAIT_MS, () => {
        stop();
        answer(408);
      });
      const stop = () => {
        clearTimeout(timer);
        timers.delete(timer);
        state.progressListeners.delete(listener);
      };
      state.progressListeners.add(listener);
      res.once('close', stop);
      return;
    }
    const release = /^release\/([A-Za-z0-9._~-]+)$/.exec(action);
    if (method === 'POST' && release) {
      const found = gate(tenantState(tenant), release[1]!);
      found.released = true;
      for (const waiter of found.waiters.splice(0)) waiter();
      sendJson(res, 200, { released: release[1] });
      return;
    }
    if (method === 'GET' && action === 'closed-port') {
      const probe = (nodeNet as unknown as { createServer(): NetServer }).createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => sendJson(res, 200, { port: address && typeof address !== 'string' ? address.port : 0 }));
      });
      return;
    }
    sendJson(res, 404, { error: 'no_control_route', method, action });
  }

  function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply, state: TenantState): void {
    if (reply.destroy) {
      const socket = req.socket as NodeSocket & { resetAndDestroy?: () => void };
      if (socket.resetAndDestroy) socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    // Keep the socket: it ends when the client aborts or when close() destroys it.
    if (reply.hang) return;

    const headers: Record<string, string | string[]> = { ...reply.headers };
    if (reply.chunks) {
      res.statusCode = reply.status ?? 200;
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.flushHeaders();
      const chunks = [...reply.chunks];
      const next = () => {
        if (res.destroyed) return;
        const chunk = chunks.shift();
        if (!chunk) {
          res.end();
          return;
        }
        later(chunk.delayMs ?? 0, () => {
          if (res.destroyed) return;
          res.write(chunk.body);
          next();
        });
      };
      next();
      return;
    }
    if (reply.download) {
      const { bytes, gate: gateName, holdAfter = DOWNLOAD_CHUNK } = reply.download;
      res.statusCode = reply.status ?? 200;
      if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
        headers['content-type'] = 'application/octet-stream';
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      res.flushHeaders();
      let closed = false;
      res.once('close', () => {
        closed = true;
      });
      const waitForGate = () =>
        new Promise<void>((resolve) => {
          const found = gate(state, gateName!);
          if (found.released) resolve();
          else found.waiters.push(resolve);
        });
      void (async () => {
        let sent = 0;
        let held = gateName === undefined;
        while (sent < bytes && !closed) {
          if (!held && sent >= holdAfter) {
            await waitForGate();
            held = true;
            continue;
          }
          const limit = held ? bytes : Math.min(bytes, holdAfter);
          const length = Math.min(DOWNLOAD_CHUNK, limit - sent);
          const chunk = new Uint8Array(length);
          for (let index = 0; index < length; index++) chunk[index] = patternByte(sent + index);
          sent += length;
          if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve));
        }
        if (!closed) res.end();
      })();
      return;
    }

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

  /** WebSocket upgrades: the RFC 6455 handshake and an echo, on routes scripted with `websocket: "echo"`. */
  function handleUpgrade(req: IncomingMessage, socket: UpgradedSocket, head: Uint8Array): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://scripted.invalid');
    const tenant = url.pathname.split('/')[1] ?? '';
    const state = tenant !== CONTROL_SEGMENT && TENANT_PATTERN.test(tenant) ? tenantState(tenant) : undefined;
    if (state) record(state, req, url, new Uint8Array(0));
    const route = state?.routes.get(`${(req.method ?? 'GET').toUpperCase()} ${url.pathname}`);
    const reply = route?.replies[Math.min(route.next, route.replies.length - 1)];
    if (route) route.next += 1;
    const key = req.headers['sec-websocket-key'];
    if (reply?.websocket !== 'echo' || typeof key !== 'string') {
      socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      socket.end();
      return;
    }
    const accept = createHash('sha1').update(`${key}${WEBSOCKET_GUID}`).digest('base64');
    const extra = Object.entries(reply.headers ?? {})
      .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((one) => `${name}: ${one}\r\n`))
      .join('');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n${extra}\r\n`,
    );

    let buffered: Uint8Array = new Uint8Array(0);
    const onData = (chunk: Uint8Array) => {
      buffered = concat([buffered, chunk]);
      for (;;) {
        const frame = readFrame(buffered);
        if (!frame) return;
        buffered = buffered.subarray(frame.length);
        if (frame.opcode === 0x1 || frame.opcode === 0x2) socket.write(encodeFrame(frame.opcode, frame.payload));
        else if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
        else if (frame.opcode === 0x8) {
          socket.write(encodeFrame(0x8, frame.payload.subarray(0, 2)));
          socket.end();
          return;
        }
      }
    };
    socket.on('data', onData);
    if (head.byteLength > 0) onData(head);
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

/** One WebSocket frame read from `data` (a client frame, masked), or `undefined` when incomplete. */
function readFrame(data: Uint8Array): { opcode: number; payload: Uint8Array; length: number } | undefined {
  if (data.byteLength < 2) return undefined;
  const opcode = data[0]! & 0x0f;
  const masked = (data[1]! & 0x80) !== 0;
  let length = data[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.byteLength < 4) return undefined;
    length = (data[2]! << 8) | data[3]!;
    offset = 4;
  } else if (length === 127) {
    if (data.byteLength < 10) return undefined;
    length = Number(new DataView(data.buffer, data.byteOffset + 2, 8).getBigUint64(0));
    offset = 10;
  }
  const mask = masked ? data.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (data.byteLength < offset + length) return undefined;
  const payload = data.slice(offset, offset + length);
  if (mask)
    for (let index = 0; index < payload.byteLength; index++) payload[index] = payload[index]! ^ mask[index % 4]!;
  return { opcode, payload, length: offset + length };
}

/** An unmasked (server) WebSocket frame with FIN set. */
function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.byteLength;
  const header =
    length < 126
      ? new Uint8Array([0x80 | opcode, length])
      : length < 65_536
        ? new Uint8Array([0x80 | opcode, 126, length >> 8, length & 0xff])
        : new Uint8Array(10);
  if (length >= 65_536) {
    header[0] = 0x80 | opcode;
    header[1] = 127;
    new DataView(header.buffer).setBigUint64(2, BigInt(length));
  }
  return concat([header, payload]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const all = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.byteLength;
  }
  return all;
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

/** Reads the whole body, reporting progress (bytes so far, done) after every chunk. */
function readBody(req: IncomingMessage, onProgress: (bytes: number, done: boolean) => void): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let length = 0;
    req.on('data', (chunk) => {
      chunks.push(chunk);
      length += chunk.byteLength;
      onProgress(length, false);
    });
    req.on('end', () => {
      onProgress(length, true);
      resolve(concat(chunks));
    });
    req.on('error', reject);
  });
}
