/**
 * What session control costs a steady-state request (issue 12, item 5): still
 * at most one KV read and no KV write, and no index lookup (no `list`, no
 * `user:`/`sid:`/`nid:` key) on the hot path; and how fast a revocation
 * reaches an isolate that holds the session in its cache.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { SESSION_ISOLATE_CACHE_SECONDS } from '../../src/session/isolate-state.ts';
import { endSessionsOfSubject } from '../../src/session/indexes.ts';
import { setUpGateway } from '../gateway/helpers.ts';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import { NAVIGATION, SAME_ORIGIN_FETCH, SAME_ORIGIN_POST_HEADERS } from '../support/presets.ts';
import { bindings, browserOf, logIn, randomText } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

interface KvCall {
  op: string;
  key: string;
}

/** The real KV binding, recording every call (the binding is not our module). */
function countingKv(): { kv: KVNamespace; calls: KvCall[] } {
  const calls: KvCall[] = [];
  const kv = new Proxy(bindings.SESSIONS, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const first = args[0];
        const key = typeof first === 'string' ? first : `prefix=${(first as { prefix?: string } | undefined)?.prefix}`;
        calls.push({ op: String(property), key });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv, calls };
}

const READS = ['get', 'getWithMetadata', 'list'];
const WRITES = ['put', 'delete'];

function startClock(): number {
  vi.useFakeTimers({ toFake: ['Date'] });
  const start = Math.floor(Date.now() / 1000) * 1000;
  vi.setSystemTime(start);
  return start;
}

describe('steady state with session control', () => {
  it('a session request costs at most one KV read (the record), no write, no list and no index key', async () => {
    const setup = await setUpGateway();
    const counter = countingKv();
    const edge = createTestEdge({ ...setup.edge.env, SESSIONS: counter.kv });
    await setup.routeOrigin('GET', '/account', { status: 200 });
    await setup.routeOrigin('GET', '/api/data', { json: {} });
    const start = startClock();
    const login = await logIn(edge, setup.provider, {
      sub: randomText('sub-'),
      sid: randomText('sid-'),
      key: setup.key,
    });
    const requests: Array<[string, RequestInit]> = [
      ['/auth/me', { headers: SAME_ORIGIN_FETCH }],
      ['/account', { headers: NAVIGATION }],
      ['/api/data', { headers: SAME_ORIGIN_FETCH }],
    ];

    for (const [path, init] of requests) {
      // Within the isolate cache: nothing at all.
      counter.calls.length = 0;
      for (let index = 0; index < 5; index++) expect((await edge.fetch(path, init)).status, path).toBe(200);
      expect(counter.calls, path).toEqual([]);

      // A cold isolate (same KV): one read of the record, nothing else.
      counter.calls.length = 0;
      const cold = coldIsolate(edge);
      for (let index = 0; index < 5; index++) expect((await cold.fetch(path, init)).status, path).toBe(200);
      expect(counter.calls, path).toEqual([{ op: 'get', key: login.kvKey }]);
    }

    // Past the isolate cache: again one record read per isolate, no write.
    vi.setSystemTime(start + (SESSION_ISOLATE_CACHE_SECONDS + 1) * 1000);
    counter.calls.length = 0;
    for (const [path, init] of requests) expect((await edge.fetch(path, init)).status, path).toBe(200);
    expect(counter.calls).toEqual([{ op: 'get', key: login.kvKey }]);
  });

  it('the hourly idle-clock write moves the record and its index entries, and reads no index', async () => {
    const setup = await setUpGateway();
    const counter = countingKv();
    const edge = createTestEdge({ ...setup.edge.env, SESSIONS: counter.kv });
    const start = startClock();
    const login = await logIn(edge, setup.provider, { sub: randomText('sub-'), key: setup.key });
    counter.calls.length = 0;

    vi.setSystemTime(start + 61 * 60_000);
    expect((await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);

    const reads = counter.calls.filter((call) => READS.includes(call.op));
    const writes = counter.calls.filter((call) => WRITES.includes(call.op));
    // The record read (the cache expired long ago) and the write's re-read (logout wins); then the record and its user:/nid: entries.
    expect(reads).toEqual([
      { op: 'get', key: login.kvKey },
      { op: 'get', key: login.kvKey },
    ]);
    expect(writes.map((call) => `${call.op} ${call.key.split(':')[0]}`).sort()).toEqual([
      'put nid',
      'put session',
      'put user',
    ]);
  });
});

describe('how fast a revocation reaches an isolate that cached the session', () => {
  it('an isolate still holding the revoked session cannot refresh it back to life (logout wins)', async () => {
    const setup = await setUpGateway();
    const sub = randomText('sub-');
    const victim = browserOf(setup.edge);
    const { sessionId } = await logIn(victim, setup.provider, { sub, key: setup.key });
    const cookie = `__Host-kenni-session=${sessionId}`;
    const elsewhere = coldIsolate(victim);
    expect((await elsewhere.fetch('/auth/me', { headers: { ...SAME_ORIGIN_FETCH, cookie }, jar: false })).status).toBe(
      200,
    );

    expect(await endSessionsOfSubject(loadConfig(setup.edge.env), setup.edge.env, sub)).toBe(1);

    const refresh = await elsewhere.fetch('/auth/refresh', {
      method: 'POST',
      headers: { ...SAME_ORIGIN_POST_HEADERS, cookie },
      jar: false,
    });
    expect(refresh.status).toBe(401);
    expect(await refresh.json()).toMatchObject({ code: 'session_ended' });
    expect((await elsewhere.fetch('/auth/me', { headers: { ...SAME_ORIGIN_FETCH, cookie }, jar: false })).status).toBe(
      401,
    );
    expect(await bindings.SESSIONS.get(`session:${await sha256Hex(sessionId)}`)).toBeNull();
  });

  it('this isolate: at once; another isolate: on its next KV read, at most SESSION_ISOLATE_CACHE_SECONDS later', async () => {
    const setup = await setUpGateway();
    const start = startClock();
    const sub = randomText('sub-');
    const revoker = setup.edge;
    const victim = browserOf(revoker);
    const { sessionId } = await logIn(victim, setup.provider, { sub, key: setup.key });
    // Another isolate (its own configuration and caches, the same KV) serves the same browser's cookie.
    const elsewhere: TestEdge = coldIsolate(victim);
    // The cookie is sent explicitly: a 401 clears it from the shared jar, but the test keeps asking with it.
    const me = (edge: TestEdge) =>
      edge.fetch('/auth/me', {
        headers: { ...SAME_ORIGIN_FETCH, cookie: `__Host-kenni-session=${sessionId}` },
        jar: false,
      });
    expect((await me(elsewhere)).status).toBe(200); // now cached there

    expect(await endSessionsOfSubject(loadConfig(revoker.env), revoker.env, sub)).toBe(1);

    expect((await me(victim)).status).toBe(401); // the isolate that revoked: at once
    const fresh = coldIsolate(victim);
    expect((await me(fresh)).status).toBe(401); // an isolate without a cached copy: at its first KV read
    // The isolate that cached it serves it until its cache entry expires (KV propagation adds up to ~60 s in production).
    vi.setSystemTime(start + (SESSION_ISOLATE_CACHE_SECONDS - 1) * 1000);
    expect((await me(elsewhere)).status).toBe(200);
    vi.setSystemTime(start + (SESSION_ISOLATE_CACHE_SECONDS + 1) * 1000);
    expect((await me(elsewhere)).status).toBe(401);
    // A refresh there cannot bring it back: logout wins.
    const refresh = await elsewhere.fetch('/auth/refresh', {
      method: 'POST',
      headers: { ...SAME_ORIGIN_POST_HEADERS, cookie: `__Host-kenni-session=${sessionId}` },
      jar: false,
    });
    expect(refresh.status).toBe(401);
  });
});
