/**
 * Anonymous KV writes (issue #8 item 4): a callback that does not carry a
 * valid authorization response (matching `state`, the provider's `iss`, a
 * `code` the provider accepts) writes nothing to KV, so one client cannot use
 * up the free plan's 1,000 writes a day. The in-isolate set of used states
 * stays bounded.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Env } from '../../src/config.ts';
import {
  claimLoginState,
  LOGIN_TRANSACTION_TTL,
  MAX_USED_STATES_IN_ISOLATE,
  usedLoginStates,
} from '../../src/session/login-transaction.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import { tokenError, type ScriptedProvider } from '../support/scripted-provider.ts';
import { createLoginProvider, fileSigningKey, serveLoginTokens, SESSION_COOKIE } from '../support/scripted-login.ts';

const bindings = env as unknown as Env;

afterEach(() => {
  vi.useRealTimers();
});

/** The real KV binding, recording the key of every write (`put` and `delete`). */
function countingKv(kv: KVNamespace): { kv: KVNamespace; writes: string[] } {
  const writes: string[] = [];
  const proxy = new Proxy(kv, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'put' || property === 'delete') writes.push(`${String(property)} ${String(args[0])}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { kv: proxy, writes };
}

/** A login started without a cookie jar: its state, nonce and transaction cookie (`name=value`). */
async function startLogin(edge: TestEdge): Promise<{ state: string; nonce: string; cookie: string }> {
  const response = await edge.fetch('/auth/login', { jar: false });
  expect(response.status).toBe(302);
  const authorize = new URL(response.headers.get('location')!);
  const cookie = response.headers
    .getSetCookie()
    .find((line) => line.startsWith('__Host-kenni-login-'))!
    .split(';')[0]!;
  return { state: authorize.searchParams.get('state')!, nonce: authorize.searchParams.get('nonce')!, cookie };
}

function callback(edge: TestEdge, query: Record<string, string>, cookie: string): Promise<Response> {
  return edge.fetch(`/auth/callback?${new URLSearchParams(query)}`, { headers: { cookie }, jar: false });
}

async function createProvider(): Promise<ScriptedProvider> {
  return (await createLoginProvider({ key: await fileSigningKey() })).provider;
}

describe('bogus callbacks', () => {
  it('make no KV write: 100 callbacks with only state, a wrong state, no code, a wrong iss, a refused code, or a replay', async () => {
    const provider = await createProvider();
    // One real login (outside the count) whose callback is replayed below.
    const honest = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const completed = await startLogin(honest);
    await serveLoginTokens(provider, await fileSigningKey(), {
      nonce: completed.nonce,
      clientId: String(honest.env.KENNI_CLIENT_ID),
    });
    const completedQuery = { code: 'real-code', state: completed.state, iss: provider.issuer };
    expect((await callback(honest, completedQuery, completed.cookie)).status).toBe(302);
    await provider.serveToken(tokenError('invalid_grant', 'unknown code'));

    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const kinds: Array<[string, (login: { state: string; cookie: string }) => Promise<Response>, number, string]> = [
      ['state only', (login) => callback(edge, { state: login.state }, login.cookie), 400, 'login_state_invalid'],
      [
        'a wrong state',
        (login) =>
          callback(
            edge,
            { code: 'c', state: `${'Q'.repeat(22)}${login.state.slice(22)}`, iss: provider.issuer },
            login.cookie,
          ),
        400,
        'login_state_missing',
      ],
      [
        'no code',
        (login) => callback(edge, { state: login.state, iss: provider.issuer }, login.cookie),
        400,
        'login_state_invalid',
      ],
      [
        'a wrong iss',
        (login) =>
          callback(edge, { code: 'c', state: login.state, iss: 'https://evil.example/dev-team.is' }, login.cookie),
        400,
        'login_state_invalid',
      ],
      [
        'a code the provider refuses',
        (login) =>
          callback(
            edge,
            { code: `forged-${login.state.slice(0, 8)}`, state: login.state, iss: provider.issuer },
            login.cookie,
          ),
        400,
        'invalid_grant',
      ],
      [
        'a replay of a completed callback',
        () => callback(edge, completedQuery, completed.cookie),
        400,
        'login_replayed',
      ],
    ];

    let sent = 0;
    for (let round = 0; sent < 100; round++) {
      for (const [label, send, status, code] of kinds) {
        if (sent === 100) break;
        const response = await send(await startLogin(edge));
        sent++;
        expect(response.status, label).toBe(status);
        expect(await response.text(), label).toContain(`<code>${code}</code>`);
        expect(
          response.headers.getSetCookie().some((line) => line.startsWith(`${SESSION_COOKIE}=`)),
          label,
        ).toBe(false);
      }
    }

    expect(counter.writes).toEqual([]);
  });

  it('a valid callback still writes: the used-state marker after the code exchange, then the session and its indexes', async () => {
    const provider = await createProvider();
    const counter = countingKv(bindings.SESSIONS);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, SESSIONS: counter.kv });
    const login = await startLogin(edge);
    await serveLoginTokens(provider, await fileSigningKey(), {
      nonce: login.nonce,
      clientId: String(edge.env.KENNI_CLIENT_ID),
    });

    const response = await callback(edge, { code: 'c', state: login.state, iss: provider.issuer }, login.cookie);

    expect(response.status).toBe(302);
    const sessionId = response.headers
      .getSetCookie()
      .find((line) => line.startsWith(`${SESSION_COOKIE}=`))!
      .split(';')[0]!
      .slice(SESSION_COOKIE.length + 1);
    const keyHash = await sha256Hex(sessionId);
    expect(counter.writes.slice(0, 2)).toEqual([
      `put login-state:${await sha256Hex(login.state)}`,
      `put session:${keyHash}`,
    ]);
    // Then the session-control indexes (user:, nid:; no sid: without one in the ID token), each naming this session.
    expect(
      counter.writes
        .slice(2)
        .map((write) => write.replace(/:[0-9a-f]{64}:/, ':<hash>:'))
        .sort(),
    ).toEqual([`put nid:<hash>:${keyHash}`, `put user:<hash>:${keyHash}`]);
    // The marker refuses the same callback again, in this isolate and in any other.
    const replay = await callback(edge, { code: 'c', state: login.state, iss: provider.issuer }, login.cookie);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('<code>login_replayed</code>');
  });
});

describe('the used states one isolate remembers', () => {
  const noMarkers = { get: async () => null } as unknown as KVNamespace;

  it('stay bounded: past MAX_USED_STATES_IN_ISOLATE the oldest go, and expired ones are dropped', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Math.floor(Date.now() / 1000) * 1000;
    vi.setSystemTime(start);
    // A fresh env is a fresh isolate: its own set of used states.
    const config = loadConfig({ ...bindings });
    const used = usedLoginStates(config);
    const before = used.size;
    for (let index = 0; index < MAX_USED_STATES_IN_ISOLATE + 50; index++)
      await claimLoginState(config, noMarkers, `bounded-state-${index}`);
    expect(used.size).toBe(MAX_USED_STATES_IN_ISOLATE);
    expect(before).toBeLessThanOrEqual(MAX_USED_STATES_IN_ISOLATE);

    // The newest are still refused; the oldest were let go (the KV marker refuses them once a login completed).
    await expect(
      claimLoginState(config, noMarkers, `bounded-state-${MAX_USED_STATES_IN_ISOLATE + 49}`),
    ).rejects.toMatchObject({ code: 'login_replayed' });
    await claimLoginState(config, noMarkers, 'bounded-state-0');

    vi.setSystemTime(start + (LOGIN_TRANSACTION_TTL + 1) * 1000);
    await claimLoginState(config, noMarkers, 'after-expiry');
    expect(used.size).toBe(1);
  });
});
