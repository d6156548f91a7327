/**
 * Session indexes (issue 12, item 1): written at login with the record's TTL,
 * moved with it, removed at logout and when a session is ended from elsewhere;
 * nothing in them leads back to a cookie or a kennitala; each ending function
 * ends exactly its sessions, at once in this isolate, and says how many.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { nationalIdPrefix } from '../../src/session/index-keys.ts';
import {
  endSessionByHandle,
  endSessionsBySid,
  endSessionsOfNationalId,
  endSessionsOfSubject,
  listSessions,
} from '../../src/session/indexes.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import { SAME_ORIGIN_POST_HEADERS } from '../support/presets.ts';
import { createLoginProvider, fileSigningKey } from '../support/scripted-login.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import {
  bindings,
  browserOf,
  FIREFOX_LINUX,
  listKv,
  logIn,
  randomNationalId,
  randomText,
  SAFARI_IPHONE,
} from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

async function setUp(): Promise<{ provider: ScriptedProvider; edge: TestEdge }> {
  const { provider } = await createLoginProvider({ key: await fileSigningKey() });
  return { provider, edge: createTestEdge({ KENNI_ISSUER: provider.issuer }) };
}

function me(browser: TestEdge): Promise<Response> {
  return browser.fetch('/auth/me');
}

/** Every KV entry that could belong to these logins: sessions and the three index kinds. */
async function everyEntry(): Promise<Array<{ name: string; metadata: unknown; value: string | null }>> {
  const entries = [];
  for (const prefix of ['session:', 'user:', 'sid:', 'nid:']) {
    for (const entry of await listKv(prefix))
      entries.push({ name: entry.name, metadata: entry.metadata, value: await bindings.SESSIONS.get(entry.name) });
  }
  return entries;
}

describe('indexes written at login', () => {
  it('writes user:, sid: and nid: entries naming the key hash, with the record TTL and listing metadata', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const sid = randomText('sid-');
    vi.useFakeTimers({ toFake: ['Date'] });
    const login = await logIn(edge, provider, { sub, sid, userAgent: SAFARI_IPHONE });
    const now = Math.floor(Date.now() / 1000);

    const user = await listKv(`user:${await sha256Hex(sub)}:`);
    expect(user.map((entry) => entry.name)).toEqual([`user:${await sha256Hex(sub)}:${login.keyHash}`]);
    expect(user[0]!.metadata).toEqual({ created_at: now, last_seen_at: now, user_agent: 'Safari on iOS', self: true });
    const sids = await listKv(`sid:${await sha256Hex(sid)}:`);
    expect(sids.map((entry) => entry.name)).toEqual([`sid:${await sha256Hex(sid)}:${login.keyHash}`]);
    const record = (await listKv(login.kvKey))[0]!;
    expect(record.expiration).toBeTypeOf('number');
    expect(user[0]!.expiration).toBe(record.expiration);
    expect(sids[0]!.expiration).toBe(record.expiration);
    const nid = (await listKv('nid:')).filter((entry) => entry.name.endsWith(`:${login.keyHash}`));
    expect(nid).toHaveLength(1);
    expect(nid[0]!.name).toMatch(/^nid:[0-9a-f]{64}:[0-9a-f]{64}$/);
    expect(nid[0]!.expiration).toBe(record.expiration);
  });

  it('writes no sid: entry when the ID token has no sid', async () => {
    const { provider, edge } = await setUp();
    const login = await logIn(edge, provider, { sub: randomText('sub-') });

    expect((await listKv('sid:')).filter((entry) => entry.name.endsWith(login.keyHash))).toEqual([]);
  });

  it('holds no cookie value, kennitala or plain hash of either anywhere in KV: keys, values or metadata', async () => {
    const { provider, edge } = await setUp();
    const nationalId = randomNationalId();
    const actorNationalId = randomNationalId();
    const login = await logIn(edge, provider, {
      sub: randomText('sub-'),
      sid: randomText('sid-'),
      nationalId,
      claims: { actor: { sub: randomText('actor-'), national_id: actorNationalId, name: 'Jón' } },
    });

    const entries = await everyEntry();
    const dump = JSON.stringify(entries);
    // The key hash (sha256 of the cookie) is the design; the cookie value itself appears nowhere.
    expect(dump).toContain(login.keyHash);
    expect(dump).not.toContain(login.sessionId);
    for (const id of [nationalId, actorNationalId]) expect(dump).not.toContain(await sha256Hex(id));
    // The session record keeps the identity claims (X-Kenni-National-Id is made of them); the indexes never do.
    const indexes = JSON.stringify(entries.filter((entry) => !entry.name.startsWith('session:')));
    expect(indexes).toContain(login.keyHash);
    for (const id of [nationalId, actorNationalId]) expect(indexes).not.toContain(id);
  });

  it('moves the entries with the idle clock: the same expirationTtl as the record, last_seen_at in the metadata', async () => {
    const { provider } = await createLoginProvider({ key: await fileSigningKey() });
    const puts: Array<{ key: string; options: KVNamespacePutOptions | undefined }> = [];
    const kv = new Proxy(bindings.SESSIONS, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (property === 'put') puts.push({ key: String(args[0]), options: args[2] as KVNamespacePutOptions });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSION_IDLE_TTL: '28800', SESSIONS: kv });
    const sub = randomText('sub-');
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(start);
    const login = await logIn(edge, provider, { sub, sid: randomText('sid-') });
    const userKey = `user:${await sha256Hex(sub)}:${login.keyHash}`;
    puts.length = 0;

    vi.setSystemTime(start + 30 * 60_000);
    expect((await me(edge)).status).toBe(200);
    expect(puts).toEqual([]); // not due yet: no index write either

    vi.setSystemTime(start + 61 * 60_000);
    expect((await me(edge)).status).toBe(200);

    const written = new Map(puts.map((put) => [put.key.split(':')[0], put]));
    expect(puts).toHaveLength(4); // the record, user:, sid:, nid:
    expect(written.get('session')!.options!.expirationTtl).toBe(28800);
    for (const kind of ['user', 'sid', 'nid']) expect(written.get(kind)!.options!.expirationTtl).toBe(28800);
    expect(written.get('user')!.key).toBe(userKey);
    expect(written.get('user')!.options!.metadata).toMatchObject({
      last_seen_at: start / 1000 + 61 * 60,
      created_at: start / 1000,
    });
    const record = (await listKv(login.kvKey))[0]!;
    expect((await listKv(userKey))[0]!.expiration).toBe(record.expiration);
  });
});

describe('indexes removed', () => {
  it('at logout: the record and every index entry of that session are gone', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const login = await logIn(edge, provider, { sub, sid: randomText('sid-') });
    expect((await everyEntry()).filter((entry) => entry.name.includes(login.keyHash))).toHaveLength(4);

    const logout = await edge.fetch('/auth/logout', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });

    expect(logout.status).toBe(302);
    expect((await everyEntry()).filter((entry) => entry.name.includes(login.keyHash))).toEqual([]);
  });

  it('when a new login replaces the session in the same browser', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const first = await logIn(edge, provider, { sub });
    const second = await logIn(edge, provider, { sub });

    expect((await listKv(`user:${await sha256Hex(sub)}:`)).map((entry) => entry.name)).toEqual([
      `user:${await sha256Hex(sub)}:${second.keyHash}`,
    ]);
    expect((await everyEntry()).filter((entry) => entry.name.includes(first.keyHash))).toEqual([]);
  });
});

describe('ending sessions through the indexes', () => {
  it('endSessionsOfSubject ends every session of the subject (all browsers), not others; at once in this isolate', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const [laptop, phone, stranger] = [browserOf(edge), browserOf(edge), browserOf(edge)];
    const one = await logIn(laptop, provider, { sub });
    await logIn(phone, provider, { sub, userAgent: SAFARI_IPHONE });
    await logIn(stranger, provider, { sub: randomText('other-') });
    for (const browser of [laptop, phone, stranger]) expect((await me(browser)).status).toBe(200);

    const config = loadConfig(edge.env);
    expect(await endSessionsOfSubject(config, edge.env, sub)).toBe(2);

    expect((await me(laptop)).status).toBe(401);
    expect((await me(phone)).status).toBe(401);
    expect((await me(stranger)).status).toBe(200);
    expect(await bindings.SESSIONS.get(one.kvKey)).toBeNull();
    expect(await listKv(`user:${await sha256Hex(sub)}:`)).toEqual([]);
    expect(await endSessionsOfSubject(config, edge.env, sub)).toBe(0);
  });

  it('endSessionsOfSubject keeps the session named in except', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const [laptop, phone] = [browserOf(edge), browserOf(edge)];
    const kept = await logIn(laptop, provider, { sub });
    await logIn(phone, provider, { sub });

    expect(await endSessionsOfSubject(loadConfig(edge.env), edge.env, sub, { except: kept.keyHash })).toBe(1);

    expect((await me(laptop)).status).toBe(200);
    expect((await me(phone)).status).toBe(401);
  });

  it('endSessionsBySid ends every edge session of that provider session and nothing else', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const sid = randomText('sid-');
    const [tab1, tab2, other] = [browserOf(edge), browserOf(edge), browserOf(edge)];
    await logIn(tab1, provider, { sub, sid });
    await logIn(tab2, provider, { sub, sid });
    await logIn(other, provider, { sub, sid: randomText('sid-') });

    expect(await endSessionsBySid(loadConfig(edge.env), edge.env, sid)).toBe(2);

    expect((await me(tab1)).status).toBe(401);
    expect((await me(tab2)).status).toBe(401);
    expect((await me(other)).status).toBe(200);
    expect(await listKv(`sid:${await sha256Hex(sid)}:`)).toEqual([]);
  });

  it('endSessionsOfNationalId ends the sessions of that kennitala, as subject or as the acting person', async () => {
    const { provider, edge } = await setUp();
    const nationalId = randomNationalId();
    const [own, acting, unrelated] = [browserOf(edge), browserOf(edge), browserOf(edge)];
    await logIn(own, provider, { sub: randomText('sub-'), nationalId });
    await logIn(acting, provider, {
      sub: randomText('company-'),
      claims: { actor: { sub: randomText('actor-'), national_id: nationalId } },
    });
    await logIn(unrelated, provider, { sub: randomText('sub-') });

    expect(await endSessionsOfNationalId(loadConfig(edge.env), edge.env, nationalId)).toBe(2);

    expect((await me(own)).status).toBe(401);
    expect((await me(acting)).status).toBe(401);
    expect((await me(unrelated)).status).toBe(200);
  });

  it('endSessionsOfNationalId finds entries written before a SESSION_SECRET rotation, and ending deletes them', async () => {
    const { provider, edge } = await setUp();
    const nationalId = randomNationalId();
    const before = browserOf(edge);
    await logIn(before, provider, { sub: randomText('sub-'), nationalId });
    const oldPrefix = await nationalIdPrefix(loadConfig(edge.env), nationalId);
    const oldEntries = (await listKv(oldPrefix)).map((entry) => entry.name);
    expect(oldEntries).toHaveLength(1);
    const keyHash = oldEntries[0]!.slice(-64);
    expect(await bindings.SESSIONS.get(`session:${keyHash}`)).not.toBeNull();

    const oldSecret = edge.env.SESSION_SECRET as string;
    const rotated = createTestEdge({
      KENNI_ISSUER: provider.issuer,
      SESSION_SECRET: 'a-new-session-secret-after-rotation-0123456789',
      SESSION_SECRET_PREVIOUS: oldSecret,
    });
    const config = loadConfig(rotated.env);
    expect(await endSessionsOfNationalId(config, rotated.env, nationalId)).toBe(1);
    // Ended in KV (the browser's own isolate drops its cached copy within its cache lifetime).
    expect(await bindings.SESSIONS.get(`session:${keyHash}`)).toBeNull();
    expect(await listKv(oldPrefix)).toEqual([]);

    // Without the old secret listed, the old entry is not found: the rotation is what makes it findable.
    const again = browserOf(edge);
    await logIn(again, provider, { sub: randomText('sub-'), nationalId });
    const forgetful = createTestEdge({
      KENNI_ISSUER: provider.issuer,
      SESSION_SECRET: 'a-new-session-secret-after-rotation-0123456789',
    });
    expect(await endSessionsOfNationalId(loadConfig(forgetful.env), forgetful.env, nationalId)).toBe(0);
    expect((await me(again)).status).toBe(200);
  });

  it('endSessionByHandle ends exactly the listed session; an unknown or foreign handle ends nothing', async () => {
    const { provider, edge } = await setUp();
    const sub = randomText('sub-');
    const [laptop, phone, stranger] = [browserOf(edge), browserOf(edge), browserOf(edge)];
    const current = await logIn(laptop, provider, { sub, userAgent: FIREFOX_LINUX });
    await logIn(phone, provider, { sub, userAgent: SAFARI_IPHONE });
    const strangerSub = randomText('other-');
    const foreign = await logIn(stranger, provider, { sub: strangerSub });
    const config = loadConfig(edge.env);

    const listed = await listSessions(config, edge.env, sub, current.keyHash);
    expect(listed.map(({ user_agent, current: isCurrent }) => ({ user_agent, current: isCurrent })).sort()).toEqual(
      expect.arrayContaining([
        { user_agent: 'Firefox on Linux', current: true },
        { user_agent: 'Safari on iOS', current: false },
      ]),
    );
    expect(listed).toHaveLength(2);
    const [foreignHandle] = (await listSessions(config, edge.env, strangerSub, foreign.keyHash)).map((s) => s.id);
    const phoneHandle = listed.find((summary) => !summary.current)!.id;

    expect(await endSessionByHandle(config, edge.env, sub, foreignHandle!)).toBe(false);
    expect(await endSessionByHandle(config, edge.env, sub, 'f'.repeat(32))).toBe(false);
    expect(await endSessionByHandle(config, edge.env, sub, phoneHandle)).toBe(true);

    expect((await me(phone)).status).toBe(401);
    expect((await me(laptop)).status).toBe(200);
    expect((await me(stranger)).status).toBe(200);
    expect((await listSessions(config, edge.env, sub, current.keyHash)).map((s) => s.id)).toEqual([
      listed.find((summary) => summary.current)!.id,
    ]);
  });

  it("goes through the logout path: each ended session's refresh token is revoked at the provider (RFC 7009)", async () => {
    const { provider } = await createLoginProvider({ key: await fileSigningKey() });
    await provider.serveDiscovery({ revocation_endpoint: provider.url('/oidc/token/revocation') });
    await provider.route('POST', '/oidc/token/revocation', { status: 200, body: '' });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const sub = randomText('sub-');
    const [laptop, phone, stranger] = [browserOf(edge), browserOf(edge), browserOf(edge)];
    const one = await logIn(laptop, provider, { sub });
    const two = await logIn(phone, provider, { sub });
    await logIn(stranger, provider, { sub: randomText('other-') });

    expect(await endSessionsOfSubject(loadConfig(edge.env), edge.env, sub)).toBe(2);

    const revocations = await provider.requests({ method: 'POST', path: '/oidc/token/revocation' });
    expect(revocations.map((request) => request.form?.token).sort()).toEqual(
      [one.refreshToken, two.refreshToken].sort(),
    );
  });
});
