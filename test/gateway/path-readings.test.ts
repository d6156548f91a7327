/**
 * Paths that read differently to different servers (issue #8, item 1): a `;`
 * parameter, a backslash, an encoded `/` or `\`, an encoded dot segment,
 * `%00`, double encoding. The edge classifies every reading and refuses with
 * 400 `path_ambiguous`, before any authentication, when they do not agree; a
 * `;` or an encoded character that every reading agrees on still passes.
 *
 * The corpus test sends many generated paths through the real edge
 * (anonymously, with a bearer token and with a session) and reads what the
 * origin received with readers written here, independently of the edge's:
 * Tomcat-like, nginx-like, RFC 3986-strict, double-decoding and others. Every
 * reading of every forwarded path must fall under the class the edge authorised.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EDGE_ORIGIN } from '../support/edge.ts';
import { testEvents } from '../support/log-capture.ts';
import type { RecordedRequest } from '../support/scripted-provider.ts';
import {
  accessToken,
  expectErrorPage,
  expectJsonError,
  identityHeadersOf,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from './helpers.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

function loggedEvents(): Array<Record<string, unknown>> {
  return testEvents();
}

async function expectAmbiguous(response: Response, label: string): Promise<void> {
  const body = await expectJsonError(response, 400, 'path_ambiguous', label);
  expect(body.error, label).toBe('path_ambiguous');
  expect(response.headers.get('location'), label).toBeNull();
  expect(response.headers.get('cache-control'), label).toBe('no-store');
}

describe('the attacks: a path whose readings fall under different classes is refused with 400 path_ambiguous', () => {
  it('refuses a public prefix followed by a ";" dot segment, which a servlet container reads as a protected path (anonymous)', async () => {
    const setup = await setUpGateway();
    for (const path of [
      '/public/..;/admin',
      '/public/..;/..;/admin',
      '/public/..;x=1/admin',
      '/public/.;/..;/admin',
      '/public;x/..;/admin',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses the same trick percent-encoded: %3B, and %3B or %2F or %5C or dots encoded twice', async () => {
    const setup = await setUpGateway();
    for (const path of [
      '/public/..%3B/admin',
      '/public/..%3b/admin',
      '/public/..%253B/admin',
      '/public/..%2fadmin',
      '/public/..%5Cadmin',
      '/public/%252e%252e/admin',
      '/public/%2E%2E%2Fadmin',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses an API path that a servlet container reads as a page, for a machine token (it would reach the page with the token identity)', async () => {
    const setup = await setUpGateway();
    const token = await accessToken(setup, { sub: 'machine-1' });
    for (const path of [
      '/api/..;/account/settings',
      '/api/orders/..;/..;/account',
      '/api/..%3B/account',
      '/api/..%2faccount',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: { authorization: `Bearer ${token}` } }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses a page path one reading of which is public or API, with a session too', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    // The last: merged slashes read `/x`, a server that keeps the empty segment reads `/favicon.ico/x`.
    for (const path of [
      '/account/..;/public/x',
      '/account/..%2fapi/orders',
      '/public%2fx',
      '/api;v=1/orders',
      '/favicon.ico%2F%2F..%2Fx',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('decides before authentication: an anonymous page navigation gets the 400 page, not a redirect to login', async () => {
    const setup = await setUpGateway();

    const navigation = await setup.edge.fetch('/account/..;/public/x', { headers: NAVIGATION });

    expect(navigation.headers.get('location')).toBeNull();
    await expectErrorPage(navigation, 400, 'path_ambiguous');
    // One reading is an API path: JSON, as every API answer, even for a navigation.
    await expectAmbiguous(
      await setup.edge.fetch('/public/..;/api/orders', { headers: NAVIGATION }),
      'navigation with an API reading',
    );
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses a path one reading of which climbs above the root (it would leave the ORIGIN_URL path), even when every other reading is a page', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    for (const path of [
      '/x/..%2f..%2fother',
      '/x/..;/..;/other',
      '/..%2f%2e%2e%2fother',
      '/a/%252e%252e/%252e%252e/other',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses %00 and other control characters in any reading, and a path that is not valid percent-encoded UTF-8', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    for (const path of [
      '/public/x%00.html',
      '/public/x%2500.html',
      '/account/x%0a',
      '/public/%E0%A4%A',
      '/public/%C0%AE%C0%AE/admin',
      '/account/%FF',
    ]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path);
    }
    expect(await setup.originRequests()).toEqual([]);
  });

  it('refuses a path encoded more times than the readings decode, and one too long to read every way; a long plain path still passes', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    const nested = `/docs/${Array.from({ length: 300 }, (_, i) => `a;%5C%253B%25255C${i}`).join('/')}`;
    for (const path of ['/docs/%2525252525', nested]) {
      await expectAmbiguous(await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH }), path.slice(0, 40));
    }
    expect(await setup.originRequests()).toEqual([]);

    const long = `/docs/${'abcdefgh/'.repeat(1000)}x%20y`;
    expect((await setup.edge.fetch(long, { headers: SAME_ORIGIN_FETCH })).status).toBe(404); // forwarded; the scripted origin has no route
    expect((await setup.originRequests()).map((request) => request.rawPath.replace(/^\/[^/]+/, ''))).toEqual([
      `/origin${long}`,
    ]);
  });

  it('logs request_refused with reason path_ambiguous, the path and the method', async () => {
    const setup = await setUpGateway();

    await setup.edge.fetch('/public/..;/admin', { method: 'POST', body: 'x', headers: SAME_ORIGIN_FETCH });

    const refused = loggedEvents().filter((event) => event.event === 'request_refused');
    expect(refused).toEqual([
      expect.objectContaining({
        level: 'warn',
        reason: 'path_ambiguous',
        detail: 'readings_differ',
        path: '/public/..;/admin',
        method: 'POST',
      }),
    ]);
  });
});

/** The default configuration of the tests: `PUBLIC_PATHS = "/public/,/favicon.ico"`, `API_PATHS = "/api/"`. */
type TestClass = 'public' | 'api' | 'page';

const ROUTED = { status: 200, body: 'ok' } as const;

describe('the benign neighbours keep working', () => {
  it('forwards a ";" parameter or an encoded character every reading agrees on, anonymously on public paths', async () => {
    const setup = await setUpGateway();
    const paths = [
      '/public/file;v=1',
      '/public/x;jsessionid=1/y',
      '/public/a%20b.txt',
      '/public/a%2Fb',
      '/public/100%25',
      '/public/s%C3%AD%C3%B0a/%C3%BE%C3%BA',
    ];
    for (const path of paths) await setup.routeOrigin('GET', path, ROUTED);

    for (const path of paths)
      expect((await setup.edge.fetch(path, { headers: SAME_ORIGIN_FETCH })).status, path).toBe(200);

    const requests = await setup.originRequests();
    expect(requests.map((request) => request.rawPath.replace(/^\/[^/]+/, ''))).toEqual(
      paths.map((path) => `/origin${path}`),
    );
    for (const request of requests) expect(identityHeadersOf(request), request.path).toEqual({});
  });

  it('forwards API paths with such parameters to a bearer token', async () => {
    const setup = await setUpGateway();
    const paths = [
      '/api/items;jsessionid=1',
      '/api/a%2Fb',
      '/api/items/%C3%BE%C3%BA',
      '/api/items;v=1/x',
      '/API/orders',
    ];
    for (const path of paths) await setup.routeOrigin('GET', path, ROUTED);
    const token = await accessToken(setup, { sub: 'machine-2' });

    for (const path of paths)
      expect((await setup.edge.fetch(path, { headers: { authorization: `Bearer ${token}` } })).status, path).toBe(200);

    const requests = await setup.originRequests();
    expect(requests.map((request) => request.rawPath.replace(/^\/[^/]+/, ''))).toEqual(
      paths.map((path) => `/origin${path}`),
    );
    for (const request of requests) expect(request.headers['x-kenni-auth'], request.path).toBe('bearer');
  });

  it('forwards page paths with spaces, Icelandic letters, parameters and %25 to a session', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    const paths = [
      '/docs/a%20b',
      '/s%C3%AD%C3%B0a/%C3%BE%C3%BA',
      '/docs/file;v=1',
      '/docs/100%25',
      '/account/a%2Fb',
      '/docs/%E2%82%AC%2520',
    ];
    for (const path of paths) await setup.routeOrigin('GET', path, ROUTED);

    for (const path of paths) expect((await setup.edge.fetch(path, { headers: NAVIGATION })).status, path).toBe(200);

    const requests = await setup.originRequests();
    expect(requests.map((request) => request.rawPath.replace(/^\/[^/]+/, ''))).toEqual(
      paths.map((path) => `/origin${path}`),
    );
    for (const request of requests) expect(request.headers['x-kenni-sub'], request.path).toBe(sub);
  });
});

// ---------------------------------------------------------------------------
// Independent readers of a raw path, as different origin servers read it.
// ---------------------------------------------------------------------------

/** What a reader made of a path: its segments, or why it could not use it. */
type Reading = { segments: string[] } | { failed: 'escapes_root' | 'nul_or_control' | 'not_utf8' };

/** Percent-decodes once, byte by byte, as UTF-8; a `%` without two hex digits stays as it is. */
function percentDecode(text: string): string | undefined {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      const codePoint = text.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      bytes.push(...encoder.encode(char));
      i += char.length - 1;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** Resolves `.` and `..` in a list of segments; empty segments are dropped (`merge`) or kept and count for `..`. */
function resolveDots(segments: string[], merge = true): Reading {
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === '' && merge) continue;
    if (segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { failed: 'escapes_root' };
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return { segments: out.filter((segment) => segment !== '') };
}

/** Splits a decoded path into segments and resolves it, failing on control characters. */
function readDecoded(
  path: string | undefined,
  options: { backslash?: boolean; stripParams?: boolean; merge?: boolean } = {},
): Reading {
  if (path === undefined) return { failed: 'not_utf8' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(path)) return { failed: 'nul_or_control' };
  let text = options.backslash ? path.replaceAll('\\', '/') : path;
  let segments = text.split('/').slice(1);
  if (options.stripParams) segments = segments.map((segment) => segment.split(';')[0]!);
  text = segments.join('/');
  return resolveDots(text.split('/'), options.merge ?? true);
}

const stripParamsRaw = (raw: string): string =>
  raw
    .split('/')
    .map((segment) => segment.split(';')[0])
    .join('/');

/** Readers of the raw request path, each like one kind of server or framework. */
const READERS: Record<string, (raw: string) => Reading> = {
  /** RFC 3986: dot segments are literal `.`/`..` only; each segment is decoded on its own (an encoded `/` is data). */
  'rfc-strict': (raw) => {
    const resolved = resolveDots(raw.split('/').slice(1), false);
    if ('failed' in resolved) return resolved;
    const decoded = resolved.segments.map((segment) => percentDecode(segment));
    if (decoded.some((segment) => segment === undefined)) return { failed: 'not_utf8' };
    // eslint-disable-next-line no-control-regex
    if (decoded.some((segment) => /[\x00-\x1f\x7f]/.test(segment!))) return { failed: 'nul_or_control' };
    return { segments: decoded as string[] };
  },
  /** Tomcat: `;…` removed per segment before decoding, decoded once (encoded `/` allowed), `\` as `/`, then normalised. */
  tomcat: (raw) => readDecoded(percentDecode(stripParamsRaw(raw)), { backslash: true }),
  /** nginx: decoded once (an encoded `/` too), slashes merged, dots resolved; `;` is an ordinary character. */
  nginx: (raw) => readDecoded(percentDecode(raw)),
  /** Apache-like without slash merging: `..` also consumes an empty segment. */
  'no-merge': (raw) => readDecoded(percentDecode(raw), { merge: false }),
  /** A framework that decodes first and removes `;…` afterwards (so `%3B` counts too). */
  'decode-then-strip': (raw) => readDecoded(percentDecode(raw), { stripParams: true, backslash: true }),
  /** IIS-like: decoded once, `\` as `/`. */
  iis: (raw) => readDecoded(percentDecode(raw), { backslash: true }),
  /** Double decoding (a proxy decodes, the application decodes again), then everything else. */
  'double-decode': (raw) => {
    const once = percentDecode(raw);
    return readDecoded(once === undefined ? undefined : percentDecode(once), { stripParams: true, backslash: true });
  },
  /** Decodes until nothing changes (at most five times). */
  'decode-until-stable': (raw) => {
    let text: string | undefined = raw;
    for (let round = 0; round < 5 && text !== undefined; round++) {
      const next = percentDecode(text);
      if (next === text) break;
      text = next;
    }
    return readDecoded(text, { stripParams: true, backslash: true });
  },
  /** Cuts the path at the first `;` (`;jsessionid` handling of some servers), then decodes. */
  'cut-at-semicolon': (raw) => readDecoded(percentDecode(raw.split(';')[0]!)),
  /** Removes `;…` from every segment, then decodes (encoded `/` as data), like Jetty's path parameter handling. */
  'strip-then-segment-decode': (raw) => READERS['rfc-strict']!(stripParamsRaw(raw)),
};

/**
 * The class a reading falls under, for the origin at `/<tenant>/origin`: the
 * reading must stay inside that prefix; then `/public/…` and `/favicon.ico` are
 * public, `/api/…` (any letter case) is an API path, anything else a page.
 */
function classOfReading(reading: Reading, tenant: string): TestClass | `failed:${string}` {
  if ('failed' in reading) return `failed:${reading.failed}`;
  const [first, second, ...rest] = reading.segments;
  if (first !== tenant || second !== 'origin') return 'failed:outside_origin';
  if (rest[0] === 'public' || rest[0] === 'favicon.ico') return 'public';
  if (rest[0]?.toLowerCase() === 'api') return 'api';
  return 'page';
}

/** The class the edge authorised for a forwarded request, from what it added. */
function authorisedClass(request: RecordedRequest, sessionToken: string): TestClass {
  const auth = request.headers['x-kenni-auth'];
  if (auth === undefined) return 'public';
  if (auth === 'bearer') return 'api';
  return request.headers.authorization === `Bearer ${sessionToken}` ? 'api' : 'page';
}

/** Generated paths: every trick in every position of public, API, page and root prefixes. */
function corpus(): string[] {
  const prefixes = ['/public/', '/api/', '/account/', '/', '/favicon.ico'];
  const tricks = [
    ';',
    ';x=1',
    '..;',
    '..;/..;',
    '.;',
    '%3B',
    '%3b',
    '..%3B',
    '%253B',
    '%2F',
    '%2f',
    '..%2f',
    '..%2F',
    '%252f',
    '..%252f',
    '\\',
    '..\\',
    '%5C',
    '%5c',
    '..%5c',
    '%255c',
    '%2e',
    '%2E',
    '%2e%2e',
    '.%2e',
    '%2E%2E%2F',
    '%2e%2e%2f',
    '%252e%252e',
    '%252e%252e%252f',
    '%25252e%25252e',
    '%00',
    '%2500',
    '%25',
    '%2525',
    '%25%32%65%25%32%65',
    '%2e%2e;',
    '..;%2f',
    '%3B%2F..%3B',
    '/..%2f',
    '%2F%2F..%2F',
    'y//..%2f..%2f',
  ];
  const targets = ['x', 'admin', 'api/orders', 'public/x', '..;/public/x', 'API/x'];
  const paths = new Set<string>();
  for (const prefix of prefixes) {
    for (const trick of tricks) {
      for (const target of targets) {
        paths.add(`${prefix}${trick}/${target}`);
        paths.add(`${prefix}${target}${trick}`);
        paths.add(`${prefix}${trick}${target}`);
      }
    }
  }
  return [...paths];
}

/** Paths every reading agrees on: each must reach the origin for the credential named. */
const BENIGN: Array<[string, 'anonymous' | 'bearer' | 'session']> = [
  ['/public/file;v=1', 'anonymous'],
  ['/public/a%2Fb', 'anonymous'],
  ['/public/a%20b.txt', 'anonymous'],
  ['/public/s%C3%AD%C3%B0a/%C3%BE%C3%BA', 'anonymous'],
  ['/public/100%25', 'anonymous'],
  ['/api/items;jsessionid=1', 'bearer'],
  ['/api/a%2Fb', 'bearer'],
  ['/api/items/%C3%BE%C3%BA', 'bearer'],
  ['/docs/a%20b', 'session'],
  ['/s%C3%AD%C3%B0a/%C3%BE%C3%BA', 'session'],
  ['/docs/file;v=1', 'session'],
  ['/account/a%2Fb', 'session'],
  ['/docs/100%25', 'session'],
];

async function sendAll(
  setup: GatewaySetup,
  requests: Array<{ id: string; path: string; headers: Record<string, string> }>,
): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  // A few at a time: the workers pool and the scripted origin share two cores with other suites.
  for (let i = 0; i < requests.length; i += 8) {
    await Promise.all(
      requests.slice(i, i + 8).map(async ({ id, path, headers }) => {
        // Absolute, so that a path starting with `//` is not read as a host.
        const response = await setup.edge.fetch(`${EDGE_ORIGIN}${path}`, {
          headers: { ...headers, 'x-corpus-id': id },
          jar: false,
        });
        await response.body?.cancel();
        statuses.set(id, response.status);
      }),
    );
  }
  return statuses;
}

describe('the corpus: nothing ambiguous reaches the origin', () => {
  it('forwards only paths every reader reads under the class the edge authorised, and every benign path', async () => {
    const setup = await setUpGateway();
    const { sessionId, accessToken: sessionToken } = await signIn(setup);
    const bearer = await accessToken(setup, { sub: 'corpus-machine' });
    const credentials = {
      anonymous: { ...SAME_ORIGIN_FETCH },
      bearer: { ...SAME_ORIGIN_FETCH, authorization: `Bearer ${bearer}` },
      session: { ...SAME_ORIGIN_FETCH, cookie: `${SESSION_COOKIE}=${sessionId}` },
    };
    const paths = corpus();
    const requests = [
      ...paths.flatMap((path, index) =>
        Object.entries(credentials).map(([kind, headers]) => ({ id: `c${index}-${kind}`, path, headers })),
      ),
      ...BENIGN.map(([path, kind], index) => ({ id: `b${index}-${kind}`, path, headers: credentials[kind] })),
    ];

    const statuses = await sendAll(setup, requests);

    const received = await setup.originRequests();
    const tenant = setup.provider.tenant;
    const misread: string[] = [];
    for (const request of received) {
      const authorised = authorisedClass(request, sessionToken);
      for (const [reader, read] of Object.entries(READERS)) {
        const readAs = classOfReading(read(request.rawPath), tenant);
        if (readAs !== authorised)
          misread.push(
            `${request.headers['x-corpus-id']} ${request.rawPath}: the edge authorised ${authorised}, ${reader} reads ${readAs}`,
          );
      }
    }
    expect(misread.slice(0, 40), `${misread.length} readings differ from what the edge authorised`).toEqual([]);

    // Every benign path reached the origin (the scripted origin answers 404 for an unscripted route).
    const reached = new Set(received.map((request) => request.headers['x-corpus-id']));
    expect(BENIGN.map(([path], index) => [path, reached.has(`b${index}-${BENIGN[index]![1]}`)])).toEqual(
      BENIGN.map(([path]) => [path, true]),
    );
    // Each request was either forwarded or answered by the edge with a status of the contract: never a 5xx.
    for (const { id, path } of requests) {
      const status = statuses.get(id)!;
      if (reached.has(id)) expect(status, `${id} ${path}`).toBe(404);
      else expect([302, 400, 401], `${id} ${path} ${status}`).toContain(status);
    }
    // The corpus does contain ambiguous paths, and they were refused rather than merely unauthenticated.
    const refused = requests.filter(({ id }) => statuses.get(id) === 400).length;
    expect(refused).toBeGreaterThan(requests.length / 4);
    // And many were forwarded, so the readers above had plenty to read.
    expect(reached.size).toBeGreaterThan(requests.length / 4);
  }, 120_000);
});
