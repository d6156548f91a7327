/**
 * No identity claim in clear in any KV value (issue 12): the session record
 * keeps `sub` and the protocol fields in clear, and seals the identity claims
 * (kennitala, name, the actor) together with the tokens. Records written
 * before (claims in clear) keep working and are sealed at their next write.
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionLock } from '../../src/session/lock.ts';
import { deriveSealKey, seal } from '../../src/session/seal.ts';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { SAME_ORIGIN_FETCH, SAME_ORIGIN_POST_HEADERS, THORDUR } from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';
import {
  CROSS_SITE_NAVIGATION,
  NAVIGATION,
  SESSION_COOKIE,
  createRefreshProvider,
  refreshReply,
  scriptedBindings,
  startClock,
} from '../refresh/helpers.ts';
import { sha256Hex } from '../support/hash.ts';
import { openedRecord } from '../support/session-record.ts';
import { bindings, browserOf, listKv, logIn, randomNationalId, randomText } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** Every KV entry (keys, values, metadata) as one string. */
async function kvDump(): Promise<string> {
  const entries = [];
  for (const entry of await listKv(''))
    entries.push({ name: entry.name, metadata: entry.metadata, value: await bindings.SESSIONS.get(entry.name) });
  return JSON.stringify(entries);
}

/** Asserts none of `secrets` (kennitölur, names, actor data) appears anywhere in KV. */
async function expectNoneInKv(secrets: string[], keyHash: string): Promise<void> {
  const dump = await kvDump();
  expect(dump).toContain(`session:${keyHash}`);
  for (const secret of secrets) expect(dump, secret).not.toContain(secret);
}

async function me(edge: TestEdge): Promise<Record<string, unknown>> {
  const response = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
  expect(response.status).toBe(200);
  return ((await response.json()) as { claims: Record<string, unknown> }).claims;
}

function person(): { national_id: string; name: string } {
  return { national_id: randomNationalId(), name: randomText('Nafn-') };
}

describe('identity claims in KV', () => {
  it('are never in clear: plain and delegated logins, after an idle-clock write and after a refresh', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { SESSION_IDLE_TTL: '3600' }));
    const plainPerson = person();
    const principal = person();
    const actor = { sub: randomText('actor-'), ...person() };
    const plain = await logIn(edge, provider, {
      sub: randomText('sub-'),
      nationalId: plainPerson.national_id,
      claims: { name: plainPerson.name },
    });
    const delegatedEdge = browserOf(edge);
    const delegated = await logIn(delegatedEdge, provider, {
      sub: randomText('sub-'),
      nationalId: principal.national_id,
      claims: { name: principal.name, actor },
    });
    const secrets = [
      plainPerson.national_id,
      plainPerson.name,
      principal.national_id,
      principal.name,
      actor.national_id,
      actor.name,
      actor.sub,
    ];
    await expectNoneInKv(secrets, plain.keyHash);
    await expectNoneInKv(secrets, delegated.keyHash);
    // The record itself still carries them for every reader.
    expect(await me(edge)).toMatchObject({ national_id: plainPerson.national_id, name: plainPerson.name });
    expect(await me(coldIsolate(delegatedEdge))).toMatchObject({ national_id: principal.national_id, actor });

    // The idle clock write (SESSION_IDLE_TTL 3600: due after 900 s), read by a cold isolate (one KV read).
    clock.at(1000);
    const before = (await bindings.SESSIONS.get(delegated.kvKey))!;
    expect(await me(coldIsolate(delegatedEdge))).toMatchObject({ actor });
    expect(await bindings.SESSIONS.get(delegated.kvKey)).not.toBe(before);
    await expectNoneInKv(secrets, delegated.keyHash);

    // A refresh whose ID token brings a new name for the same person and actor.
    const renamed = randomText('Endurnefnd-');
    await provider.serveToken(
      await refreshReply(provider, {
        access_token: 'AT2',
        refresh_token: 'R2',
        claims: { sub: delegated.sub, national_id: principal.national_id, name: renamed, actor },
      }),
    );
    const refreshed = await delegatedEdge.fetch('/auth/refresh', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });
    expect(refreshed.status).toBe(200);
    await expectNoneInKv([...secrets, renamed], delegated.keyHash);
    expect(await me(coldIsolate(delegatedEdge))).toMatchObject({ name: renamed, actor });
  });

  it('are never in clear after a refresh through the SessionLock Durable Object (KV and its storage)', async () => {
    const edge = createTestEdge();
    const login = await edge.fetch('/auth/login', { headers: NAVIGATION });
    expect(login.status).toBe(302);
    const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: THORDUR.national_id });
    expect((await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION })).status).toBe(302);
    const keyHash = await sha256Hex(edge.jar.get(SESSION_COOKIE)!);
    const secrets = [THORDUR.national_id, THORDUR.name, JSON.stringify(THORDUR.name).slice(1, -1)];
    await expectNoneInKv(secrets, keyHash);

    const refreshed = await edge.fetch('/auth/refresh', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });
    expect(refreshed.status).toBe(200);

    await expectNoneInKv(secrets, keyHash);
    const namespace = (env as unknown as { SESSION_LOCKS: DurableObjectNamespace<SessionLock> }).SESSION_LOCKS;
    const stored = await runInDurableObject(namespace.get(namespace.idFromName(keyHash)), async (_lock, state) =>
      JSON.stringify([...(await state.storage.list()).entries()]),
    );
    expect(stored).toContain('last');
    for (const secret of secrets) expect(stored).not.toContain(secret);
    expect(await me(coldIsolate(edge))).toMatchObject({ national_id: THORDUR.national_id, name: THORDUR.name });
  });
});

describe('a record written before claims were sealed (claims in clear)', () => {
  it('still loads, with its claims, and is sealed at its next write', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider, { SESSION_IDLE_TTL: '3600' }));
    const who = person();
    const logged = await logIn(edge, provider, {
      sub: randomText('sub-'),
      nationalId: who.national_id,
      claims: { name: who.name },
    });
    const now = Math.floor(Date.now() / 1000);
    // Another name than the login's: what /auth/me shows next comes from this record.
    who.name = randomText('Eldra-');
    const legacy = {
      version: 1,
      sub: logged.sub,
      claims: { sub: logged.sub, national_id: who.national_id, name: who.name },
      tokens: await seal(
        await deriveSealKey(String(bindings.SESSION_SECRET), 'session-tokens'),
        { access_token: 'AT-old', refresh_token: 'R-old', expires_at: now + 86_000 },
        `session:${logged.keyHash}`,
      ),
      access_token_expires_at: now + 86_000,
      scope: 'openid',
      created_at: now,
      expires_at: now + 86_400,
      last_seen_at: now,
    };
    await bindings.SESSIONS.put(logged.kvKey, JSON.stringify(legacy));

    const reader = coldIsolate(edge);
    expect(await me(reader)).toMatchObject({ national_id: who.national_id, name: who.name });
    expect(await bindings.SESSIONS.get(logged.kvKey)).toBe(JSON.stringify(legacy));

    clock.at(1000);
    expect(await me(reader)).toMatchObject({ national_id: who.national_id });
    const written = (await bindings.SESSIONS.get<Record<string, unknown>>(logged.kvKey, 'json'))!;
    expect(written).not.toHaveProperty('claims');
    expect(written).toMatchObject({ sub: logged.sub, last_seen_at: now + 1000 });
    await expectNoneInKv([who.national_id, who.name], logged.keyHash);
    // The re-sealed record opens in yet another isolate, tokens and claims alike.
    const later = coldIsolate(edge);
    expect(await me(later)).toMatchObject({ national_id: who.national_id, name: who.name });
    const api = await later.fetch('/api/x', { headers: SAME_ORIGIN_FETCH });
    expect(api.status).toBe(200);
    expect((await provider.requests({ path: '/origin/api/x' })).at(-1)?.headers.authorization).toBe('Bearer AT-old');
  });
});

describe('sealed claims and SESSION_SECRET rotation', () => {
  it('open under SESSION_SECRET_PREVIOUS, and a refresh re-seals them under the new secret', async () => {
    const provider = await createRefreshProvider();
    const before = createTestEdge(scriptedBindings(provider));
    const who = person();
    const logged = await logIn(before, provider, {
      sub: randomText('sub-'),
      nationalId: who.national_id,
      claims: { name: who.name },
    });
    const oldSecret = String(bindings.SESSION_SECRET);
    const newSecret = 'rotated-secret-C-0123456789abcdefghijklmnop';
    const after = createTestEdge(
      scriptedBindings(provider, { SESSION_SECRET: newSecret, SESSION_SECRET_PREVIOUS: oldSecret }),
    );
    const browser = {
      ...after,
      fetch: (path: string, init: RequestInit = {}) => after.fetch(path, { ...init, jar: before.jar }),
    };

    expect(await me(browser)).toMatchObject({ national_id: who.national_id, name: who.name });
    expect((await openedRecord(logged.kvKey, undefined, oldSecret))!.claims).toMatchObject({ name: who.name });

    await provider.serveToken(
      await refreshReply(provider, {
        access_token: 'AT2',
        refresh_token: 'R2',
        claims: { sub: logged.sub, national_id: who.national_id, name: who.name },
      }),
    );
    const refreshed = await browser.fetch('/auth/refresh', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });
    expect(refreshed.status).toBe(200);
    expect((await openedRecord(logged.kvKey, undefined, oldSecret))!.claims).toEqual({});
    expect((await openedRecord(logged.kvKey, undefined, newSecret))!.claims).toMatchObject({
      national_id: who.national_id,
      name: who.name,
    });
    await expectNoneInKv([who.national_id, who.name], logged.keyHash);
    // Once the rotation is over (the new secret alone), the session still carries its identity.
    const finished = createTestEdge(scriptedBindings(provider, { SESSION_SECRET: newSecret }));
    const finishedBrowser = {
      ...finished,
      fetch: (path: string, init: RequestInit = {}) => finished.fetch(path, { ...init, jar: before.jar }),
    };
    expect(await me(finishedBrowser)).toMatchObject({ national_id: who.national_id, name: who.name });
  });
  it('opens a record written before claims were sealed under the previous secret, and seals it under the new one', async () => {
    const clock = startClock();
    const provider = await createRefreshProvider();
    const oldSecret = String(bindings.SESSION_SECRET);
    const newSecret = 'rotated-secret-D-0123456789abcdefghijklmnop';
    const before = createTestEdge(scriptedBindings(provider));
    const who = person();
    const logged = await logIn(before, provider, { sub: randomText('sub-'), nationalId: who.national_id });
    const now = Math.floor(Date.now() / 1000);
    const legacy = {
      version: 1,
      sub: logged.sub,
      claims: { sub: logged.sub, national_id: who.national_id, name: who.name },
      tokens: await seal(
        await deriveSealKey(oldSecret, 'session-tokens'),
        { access_token: 'AT-old', refresh_token: 'R-old', expires_at: now + 86_000 },
        `session:${logged.keyHash}`,
      ),
      access_token_expires_at: now + 86_000,
      created_at: now,
      expires_at: now + 86_400,
      last_seen_at: now,
    };
    await bindings.SESSIONS.put(logged.kvKey, JSON.stringify(legacy));
    const after = createTestEdge(
      scriptedBindings(provider, {
        SESSION_SECRET: newSecret,
        SESSION_SECRET_PREVIOUS: oldSecret,
        SESSION_IDLE_TTL: '3600',
      }),
    );
    const browser = {
      ...after,
      fetch: (path: string, init: RequestInit = {}) => after.fetch(path, { ...init, jar: before.jar }),
    };

    expect(await me(browser)).toMatchObject({ national_id: who.national_id, name: who.name });
    clock.at(1000);
    expect(await me(browser)).toMatchObject({ national_id: who.national_id });
    expect(await bindings.SESSIONS.get<Record<string, unknown>>(logged.kvKey, 'json')).not.toHaveProperty('claims');
    expect((await openedRecord(logged.kvKey, undefined, newSecret))!.claims).toMatchObject({ name: who.name });
    await expectNoneInKv([who.national_id, who.name], logged.keyHash);
  });
});
