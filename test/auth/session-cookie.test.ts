/**
 * The session cookie and the KV session record (issue #2): an opaque 256-bit
 * id in a `__Host-` cookie, a KV record keyed by its hash with sealed tokens,
 * no KV write in steady state, an idle clock that moves at most once an hour,
 * and the idle and absolute limits.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { NAVIGATION } from '../support/presets.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import {
  createLoginProvider,
  fileSigningKey,
  logInAt,
  SESSION_COOKIE,
  type ScriptedLogin,
} from '../support/scripted-login.ts';
import { TEST_NAME, TEST_NATIONAL_ID, TEST_SUBJECT } from '../support/token-factory.ts';
import { sha256Hex } from '../support/hash.ts';
import { openedRecord } from '../support/session-record.ts';

const bindings = env as unknown as Env;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface KvCall {
  op: string;
  key: string;
}

/** Wraps the real KV binding and records every call (the binding is not our module). */
function countingKv(kv: KVNamespace): {
  kv: KVNamespace;
  calls: KvCall[];
  sessionWrites: () => KvCall[];
  sessionReads: () => KvCall[];
} {
  const calls: KvCall[] = [];
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ op: String(property), key: String(args[0]) });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const onSessions = (ops: string[]) => () =>
    calls.filter((call) => ops.includes(call.op) && call.key.startsWith('session:'));
  return {
    kv: proxy,
    calls,
    sessionWrites: onSessions(['put', 'delete']),
    sessionReads: onSessions(['get', 'getWithMetadata']),
  };
}

function randomText(prefix: string): string {
  return `${prefix}${[...crypto.getRandomValues(new Uint8Array(16))].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** A provider tenant (discovery, JWKS) signing with this file's key. */
async function createProvider(): Promise<ScriptedProvider> {
  return (await createLoginProvider({ key: await fileSigningKey() })).provider;
}

/** What {@link logIn} left behind; the access and refresh tokens are random, so a test can look for them anywhere. */
interface LoggedIn extends ScriptedLogin {
  refreshToken: string;
}

/** One full login through the edge against the scripted provider, with a random code, access token and refresh token. */
async function logIn(edge: TestEdge, provider: ScriptedProvider): Promise<LoggedIn> {
  const refreshToken = randomText('refresh-');
  const login = await logInAt(edge, provider, await fileSigningKey(), {
    code: randomText('code-'),
    token: { access_token: randomText('access-'), refresh_token: refreshToken, expires_in: 300 },
  });
  return { ...login, refreshToken };
}

function me(edge: TestEdge, sessionId?: string): Promise<Response> {
  return edge.fetch(
    '/auth/me',
    sessionId === undefined ? {} : { headers: { cookie: `${SESSION_COOKIE}=${sessionId}` } },
  );
}

async function readRecord(sessionId: string): Promise<Record<string, unknown> | null> {
  return bindings.SESSIONS.get<Record<string, unknown>>(`session:${await sha256Hex(sessionId)}`, 'json');
}

function startClock(): number {
  vi.useFakeTimers({ toFake: ['Date'] });
  const start = Math.floor(Date.now() / 1000) * 1000;
  vi.setSystemTime(start);
  return start;
}

describe('the session cookie', () => {
  it('is __Host-kenni-session with exactly HttpOnly, Secure, SameSite=Lax, Path=/ and no Domain', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { sessionCookie, callback } = await logIn(edge, provider);

    const [pair, ...attributes] = sessionCookie.split(';').map((part) => part.trim());
    expect(pair!.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
    const names = attributes.map((attribute) => attribute.split('=')[0]!.toLowerCase());
    expect(names.sort()).toEqual(['httponly', 'max-age', 'path', 'samesite', 'secure']);
    expect(attributes).toContain('HttpOnly');
    expect(attributes).toContain('Secure');
    expect(attributes).toContain('SameSite=Lax');
    expect(attributes).toContain('Path=/');
    expect(sessionCookie.toLowerCase()).not.toContain('domain');
    expect(callback.headers.get('cache-control')).toBe('no-store');
  });

  it('carries only a base64url id of at least 256 bits: no dots, no token', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { sessionId, idToken, accessToken, refreshToken } = await logIn(edge, provider);

    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(sessionId).not.toContain('.');
    for (const token of [idToken, accessToken, refreshToken]) expect(sessionId).not.toContain(token);
    for (const cookie of edge.jar.names()) {
      const value = edge.jar.get(cookie)!;
      for (const token of [idToken, accessToken, refreshToken]) expect(value).not.toContain(token);
    }
  });

  it('gets a distinct id on every one of 50 logins', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const ids = new Set<string>();
    for (let index = 0; index < 50; index++) ids.add((await logIn(edge, provider)).sessionId);

    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    // 50 full logins, each also writing (and replacing) the session-control indexes: more than the 5 s default on a busy machine.
  }, 30_000);

  it('is replaced by a new id on login, and the old session is dead', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const first = await logIn(edge, provider);
    expect((await me(edge)).status).toBe(200);

    const second = await logIn(edge, provider);

    expect(second.sessionId).not.toBe(first.sessionId);
    const old = await me(edge, first.sessionId);
    expect(old.status).toBe(401);
    expect(await old.json()).toMatchObject({ code: 'session_required' });
    expect(await readRecord(first.sessionId)).toBeNull();
    expect((await me(edge, second.sessionId)).status).toBe(200);
  });
});

describe('the KV session record', () => {
  it('is stored under session:<hex sha256 of the id>, and no KV key contains the raw id', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { sessionId } = await logIn(edge, provider);

    const expectedKey = `session:${await sha256Hex(sessionId)}`;
    expect(expectedKey).toMatch(/^session:[0-9a-f]{64}$/);
    const { keys } = await bindings.SESSIONS.list();
    expect(keys.map((entry) => entry.name)).toContain(expectedKey);
    for (const entry of keys) expect(entry.name).not.toContain(sessionId);
    expect(await bindings.SESSIONS.get(`session:${sessionId}`)).toBeNull();
    expect(await bindings.SESSIONS.get(sessionId)).toBeNull();
  });

  it('holds sub, identity claims and expiry times, with the tokens sealed (none of them in plain text)', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const before = Math.floor(Date.now() / 1000);

    const { sessionId, idToken, accessToken, refreshToken } = await logIn(edge, provider);

    const raw = await bindings.SESSIONS.get(`session:${await sha256Hex(sessionId)}`);
    expect(raw).not.toBeNull();
    for (const token of [idToken, accessToken, refreshToken, idToken.split('.')[2]!]) expect(raw).not.toContain(token);
    expect(raw).not.toContain(sessionId);
    const record = JSON.parse(raw!) as Record<string, unknown>;
    expect(record.sub).toBe(TEST_SUBJECT);
    // The identity claims are sealed with the tokens: none in clear (issue 12).
    expect(record).not.toHaveProperty('claims');
    expect((await openedRecord(`session:${await sha256Hex(sessionId)}`))!.claims).toEqual({
      sub: TEST_SUBJECT,
      name: TEST_NAME,
      national_id: TEST_NATIONAL_ID,
    });
    expect(typeof record.tokens).toBe('string');
    expect(record.tokens).toMatch(/^[A-Za-z0-9_-]+$/);
    const createdAt = record.created_at as number;
    expect(createdAt).toBeGreaterThanOrEqual(before);
    expect(record.expires_at).toBe(createdAt + 2_592_000);
    expect(record.last_seen_at).toBe(createdAt);
    expect(record.access_token_expires_at).toBeGreaterThanOrEqual(createdAt + 299);
  });

  it('is written with a KV expiration (the idle limit)', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { sessionId } = await logIn(edge, provider);

    const name = `session:${await sha256Hex(sessionId)}`;
    const entry = (await bindings.SESSIONS.list({ prefix: name })).keys.find((candidate) => candidate.name === name);
    expect(entry?.expiration).toBeTypeOf('number');
    const now = Date.now() / 1000;
    expect(entry!.expiration!).toBeGreaterThan(now + 86_400 - 60);
    expect(entry!.expiration!).toBeLessThanOrEqual(now + 86_400 + 5);
  });
});

describe('GET /auth/me', () => {
  it('answers { sub, claims, expires_at, auth_time } with no token and cache-control: no-store', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const { idToken, accessToken, refreshToken, sessionId, claims } = await logIn(edge, provider);

    const response = await me(edge);

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('set-cookie')).toBeNull();
    const text = await response.text();
    for (const secret of [idToken, accessToken, refreshToken, sessionId]) expect(text).not.toContain(secret);
    const body = JSON.parse(text) as Record<string, unknown>;
    // Not delegated: no actor and no delegation_type.
    expect(Object.keys(body).sort()).toEqual(['auth_time', 'claims', 'expires_at', 'sub']);
    expect(body.auth_time).toBe(claims.auth_time);
    expect(body.sub).toBe(TEST_SUBJECT);
    expect(body.claims).toEqual({ sub: TEST_SUBJECT, name: TEST_NAME, national_id: TEST_NATIONAL_ID });
    const record = (await readRecord(sessionId))!;
    expect(body.expires_at).toBe(Math.min(record.expires_at as number, (record.last_seen_at as number) + 86_400));
  });

  it('answers 401 JSON without a session', async () => {
    const edge = createTestEdge();

    for (const cookie of [
      undefined,
      `${SESSION_COOKIE}=${'A'.repeat(43)}`,
      `${SESSION_COOKIE}=not-a-session`,
      `${SESSION_COOKIE}=`,
    ]) {
      const response = await edge.fetch('/auth/me', cookie ? { headers: { cookie } } : {});
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="kenni-edge"');
      expect(response.headers.get('location')).toBeNull();
      expect(await response.json()).toMatchObject({ error: 'session_required', code: 'session_required' });
    }
  });

  it('answers 401 JSON without a session even to a page navigation (it is an API)', async () => {
    const edge = createTestEdge();

    const response = await edge.fetch('/auth/me', { headers: NAVIGATION });

    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ code: 'session_required' });
  });
});

describe('steady state', () => {
  it('repeated /auth/me requests cause no KV write and, within the isolate cache, no KV read', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const start = startClock();
    const { sessionId } = await logIn(edge, provider);
    const recordBefore = await readRecord(sessionId);
    counter.calls.length = 0;

    for (let index = 0; index < 20; index++) expect((await me(edge)).status).toBe(200);

    expect(counter.calls).toEqual([]);

    // Past the isolate cache (30 s): one KV read, still no write.
    vi.setSystemTime(start + 31_000);
    for (let index = 0; index < 5; index++) expect((await me(edge)).status).toBe(200);
    expect(counter.sessionReads()).toHaveLength(1);
    expect(counter.sessionWrites()).toEqual([]);
    expect(await readRecord(sessionId)).toEqual(recordBefore);
  });

  it('moves the idle clock at most once an hour: no write after 30 minutes, one write after 61 minutes', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const start = startClock();
    const { sessionId } = await logIn(edge, provider);
    const loginRecord = (await readRecord(sessionId))!;
    const name = `session:${await sha256Hex(sessionId)}`;
    counter.calls.length = 0;

    vi.setSystemTime(start + 30 * 60_000);
    for (let index = 0; index < 3; index++) expect((await me(edge)).status).toBe(200);
    expect(counter.sessionWrites()).toEqual([]);
    expect((await readRecord(sessionId))!.last_seen_at).toBe(loginRecord.last_seen_at);

    vi.setSystemTime(start + 61 * 60_000);
    for (let index = 0; index < 3; index++) expect((await me(edge)).status).toBe(200);
    expect(counter.sessionWrites()).toEqual([{ op: 'put', key: name }]);
    const touched = (await readRecord(sessionId))!;
    expect(touched.last_seen_at).toBe(Math.floor((start + 61 * 60_000) / 1000));
    expect({ ...touched, last_seen_at: loginRecord.last_seen_at }).toEqual(loginRecord);
    const entry = (await bindings.SESSIONS.list({ prefix: name })).keys[0];
    expect(entry?.expiration).toBeTypeOf('number');

    // Later requests in the same hour (past the isolate cache too) write nothing more.
    vi.setSystemTime(start + 90 * 60_000);
    for (let index = 0; index < 3; index++) expect((await me(edge)).status).toBe(200);
    expect(counter.sessionWrites()).toHaveLength(1);
  });
});

describe('session limits', () => {
  it('ends a session unused for longer than SESSION_IDLE_TTL, and keeps one that is used', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const start = startClock();
    const { sessionId } = await logIn(edge, provider);
    const hour = 3_600_000;

    vi.setSystemTime(start + 23 * hour);
    expect((await me(edge)).status).toBe(200);
    vi.setSystemTime(start + 46 * hour);
    expect((await me(edge)).status).toBe(200);
    expect(await readRecord(sessionId)).not.toBeNull();

    vi.setSystemTime(start + 70 * hour + 1000);
    const ended = await me(edge);

    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: 'session_required' });
    expect(await readRecord(sessionId)).toBeNull();
  });

  it('ends a session exactly when SESSION_IDLE_TTL has passed without use', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSION_IDLE_TTL: '7200' });
    const start = startClock();
    const { sessionId } = await logIn(edge, provider);

    vi.setSystemTime(start + 7199_000);
    const alive = await me(edge);
    expect(alive.status).toBe(200);
    // SESSION_IDLE_TTL 7200 moves the idle clock every 1800 s: this request moved it.
    expect((await readRecord(sessionId))!.last_seen_at).toBe(Math.floor(start / 1000) + 7199);

    vi.setSystemTime(start + (7199 + 7200) * 1000);
    const ended = await me(edge);
    expect(ended.status).toBe(401);
    expect(await readRecord(sessionId)).toBeNull();
  });

  it('ends a session older than SESSION_TTL even while it is in use', async () => {
    const provider = await createProvider();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSION_TTL: '7200' });
    const start = startClock();
    const { sessionId } = await logIn(edge, provider);
    expect((await readRecord(sessionId))!.expires_at).toBe(Math.floor(start / 1000) + 7200);

    for (const minutes of [30, 61, 100, 119]) {
      vi.setSystemTime(start + minutes * 60_000);
      expect((await me(edge)).status).toBe(200);
    }
    vi.setSystemTime(start + 7200_000);
    const ended = await me(edge);

    expect(ended.status).toBe(401);
    expect(await ended.json()).toMatchObject({ code: 'session_required' });
    expect(await readRecord(sessionId)).toBeNull();
  });
});
