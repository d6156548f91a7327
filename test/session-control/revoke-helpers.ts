/**
 * Shared steps of the back-channel logout and admin revoke tests: a scripted
 * provider and an edge in front of it, browsers signing in as one test user
 * (unique per test: KV is shared with other test files), and assertions that a
 * session still works or is gone, in the isolate that revoked it and in a cold one.
 */
import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { Env } from '../../src/config.ts';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { SAME_ORIGIN_FETCH, SESSION_COOKIE } from '../support/presets.ts';
import { CookieJar } from '../support/provider-login.ts';
import { createLoginProvider, fileSigningKey, logInAt, type ScriptedLogin } from '../support/scripted-login.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import type { Claims, TestKey } from '../support/token-factory.ts';

/** The test KV namespace (shared by every test file). */
export const kv = (env as unknown as Env).SESSIONS;
/** The client id test/wrangler.test.toml configures. */
export const CLIENT_ID = '@dev-team.is/web';

/** A scripted provider, its signing key, an edge in front of it, and this test's user. */
export interface Setup {
  provider: ScriptedProvider;
  key: TestKey;
  edge: TestEdge;
  /** Unique per test. */
  sub: string;
}

/** A scripted provider (the file's RS256 key) and an edge with `bindings` over the test ones. */
export async function setUp(bindings: Record<string, unknown> = {}): Promise<Setup> {
  const key = await fileSigningKey();
  const { provider } = await createLoginProvider({ key });
  const edge = createTestEdge({ KENNI_ISSUER: provider.issuer, ...bindings });
  return { provider, key, edge, sub: `sc-${crypto.randomUUID()}` };
}

/** A new browser (its own cookie jar, the isolate of `setup.edge`) signed in with `claims` over the user's `sub`. */
export function signIn(setup: Setup, claims: Claims = {}): Promise<ScriptedLogin> {
  const jar = new CookieJar();
  const browser: TestEdge = {
    env: setup.edge.env,
    jar,
    fetch: (path, init = {}) => setup.edge.fetch(path, { jar, ...init }),
  };
  return logInAt(browser, setup.provider, setup.key, { claims: { sub: setup.sub, ...claims } });
}

/** `GET /auth/me` with a session cookie, through `edge`'s isolate. */
export function me(edge: TestEdge, sessionId: string): Promise<Response> {
  return edge.fetch('/auth/me', {
    jar: false,
    headers: { ...SAME_ORIGIN_FETCH, cookie: `${SESSION_COOKIE}=${sessionId}` },
  });
}

/** The session is untouched: its KV record is there and the cookie still signs in, in a cold isolate too. */
export async function expectSessionAlive(setup: Setup, login: ScriptedLogin): Promise<void> {
  expect(await kv.get(login.kvKey)).not.toBeNull();
  expect((await me(setup.edge, login.sessionId)).status).toBe(200);
  expect((await me(coldIsolate(setup.edge), login.sessionId)).status).toBe(200);
}

/** The session is over: no KV record, and the cookie gets 401 in the isolate that ended it and in a cold one. */
export async function expectSessionGone(setup: Setup, login: ScriptedLogin): Promise<void> {
  expect(await kv.get(login.kvKey)).toBeNull();
  expect((await me(setup.edge, login.sessionId)).status).toBe(401);
  expect((await me(coldIsolate(setup.edge), login.sessionId)).status).toBe(401);
}

/** A random ten-digit number: a national id no other test signs in with. */
export function uniqueNationalId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(10)), (byte) => String(byte % 10)).join('');
}
