/**
 * Shared pieces of the refresh tests (issue #5): a scripted provider with
 * discovery, JWKS and a tenant route that plays the origin, a scripted login
 * (test/support/scripted-login.ts with the refresh tests' defaults), and ways
 * to look at what the edge keeps in KV (the record, and its sealed tokens
 * opened with the test secret).
 */
import { env } from 'cloudflare:test';
import { vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import type { ProviderTokens } from '../../src/provider/client.ts';
import type { SessionRecord } from '../../src/session/store.ts';
import type { TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_POST_HEADERS } from '../support/presets.ts';
import {
  tokenResponse,
  type RecordedRequest,
  type Reply,
  type ScriptedProvider,
} from '../support/scripted-provider.ts';
import { createLoginProvider, fileSigningKey, logInAt, type ScriptedLogin } from '../support/scripted-login.ts';
import { makeIdTokenClaims, signJwt } from '../support/token-factory.ts';
import { openRecordTokens, openedRecord } from '../support/session-record.ts';

export { SESSION_COOKIE, expectSessionCookieCleared } from '../support/scripted-login.ts';
export const bindings = env as unknown as Env;

export { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH as API_FETCH } from '../support/presets.ts';
/** A same-origin `POST /auth/refresh` from the app's own pages. */
export const SAME_ORIGIN_POST: RequestInit = {
  method: 'POST',
  headers: { ...SAME_ORIGIN_POST_HEADERS, accept: 'application/json' },
};

/** The path (relative to the scripted issuer) that plays the origin: `ORIGIN_URL` points here. */
export const ORIGIN_PREFIX = '/origin';

/** The provider's RS256 signing key, one per test file. */
export const providerKey = fileSigningKey;

/** A scripted provider with discovery, JWKS, and an origin route answering 200 for `GET /api/x` and `GET /account`. */
export async function createRefreshProvider(): Promise<ScriptedProvider> {
  const { provider } = await createLoginProvider({ key: await providerKey() });
  await provider.route('GET', `${ORIGIN_PREFIX}/api/x`, { status: 200, json: { ok: true } });
  await provider.route('GET', `${ORIGIN_PREFIX}/account`, {
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: '<p>account</p>',
  });
  return provider;
}

/**
 * Bindings for an edge in front of the scripted provider, with the origin on
 * the same scripted tenant. `SESSION_LOCKS` is removed: the Durable Object
 * refreshes with its own bindings (test/wrangler.test.toml + vitest.config.ts, i.e. the
 * real local provider), not with a test's overrides.
 */
export function scriptedBindings(
  provider: ScriptedProvider,
  extra: Partial<Record<keyof Env, unknown>> = {},
): Partial<Record<keyof Env, unknown>> {
  return { KENNI_ISSUER: provider.issuer, ORIGIN_URL: provider.url(ORIGIN_PREFIX), SESSION_LOCKS: undefined, ...extra };
}

/** A successful token response in the shape the edge expects after a refresh. */
export async function refreshReply(
  provider: ScriptedProvider,
  fields: {
    access_token: string;
    refresh_token?: string;
    expires_in?: number;
    id_token?: string | false;
    claims?: Record<string, unknown>;
  },
): Promise<Reply> {
  const idToken =
    fields.id_token === false ? undefined : (fields.id_token ?? (await idTokenFor(provider, fields.claims)));
  return tokenResponse({
    access_token: fields.access_token,
    expires_in: fields.expires_in ?? 120,
    ...(fields.refresh_token ? { refresh_token: fields.refresh_token } : {}),
    ...(idToken ? { id_token: idToken } : {}),
  });
}

/** A refreshed ID token (no nonce) for the edge's client; `claims` override or remove (`undefined`) claims. */
export async function idTokenFor(provider: ScriptedProvider, claims: Record<string, unknown> = {}): Promise<string> {
  return signJwt(
    await providerKey(),
    makeIdTokenClaims({
      issuer: provider.issuer,
      clientId: String(bindings.KENNI_CLIENT_ID),
      nonce: undefined,
      ...claims,
    }),
  );
}

/** What {@link logIn} returns. */
export type LoggedIn = ScriptedLogin;

/**
 * Logs in through the edge against the scripted provider: `/auth/login`, then
 * the callback with a token response carrying `access_token` (default `AT1`),
 * `refresh_token` (default `R1`) and `expires_in` (default 120 s). Leaves the
 * token endpoint scripted with that login reply; the caller scripts the
 * refreshes after it.
 */
export async function logIn(
  edge: TestEdge,
  provider: ScriptedProvider,
  options: { accessToken?: string; refreshToken?: string; expiresIn?: number; claims?: Record<string, unknown> } = {},
): Promise<LoggedIn> {
  return logInAt(edge, provider, await providerKey(), {
    loginHeaders: NAVIGATION,
    callbackHeaders: CROSS_SITE_NAVIGATION,
    claims: options.claims,
    token: {
      access_token: options.accessToken ?? 'AT1',
      refresh_token: options.refreshToken ?? 'R1',
      expires_in: options.expiresIn ?? 120,
    },
  });
}

/** The refresh grants the provider received (token requests with `grant_type=refresh_token`). */
export async function refreshGrants(provider: ScriptedProvider): Promise<RecordedRequest[]> {
  const requests = await provider.requests({ method: 'POST', path: '/oidc/token' });
  return requests.filter((request) => request.form?.grant_type === 'refresh_token');
}

/** Requests the scripted origin received (path relative to the origin, e.g. `/api/x`). */
export async function originRequests(provider: ScriptedProvider, path = '/api/x'): Promise<RecordedRequest[]> {
  return provider.requests({ path: `${ORIGIN_PREFIX}${path}` });
}

/** The session record in KV, its sealed identity claims opened with the test's SESSION_SECRET, or `null`. */
export async function readRecord(kvKey: string, kv: KVNamespace = bindings.SESSIONS): Promise<SessionRecord | null> {
  return openedRecord(kvKey, kv);
}

/** Opens the sealed tokens of a KV record with the test's SESSION_SECRET. */
export async function openTokens(
  record: Pick<SessionRecord, 'tokens'>,
  keyHash: string,
): Promise<ProviderTokens | undefined> {
  return openRecordTokens(record, keyHash);
}

/** The tokens the KV record holds now. */
export async function tokensInKv(logged: Pick<LoggedIn, 'kvKey' | 'keyHash'>): Promise<ProviderTokens | undefined> {
  const record = await readRecord(logged.kvKey);
  return record ? openTokens(record, logged.keyHash) : undefined;
}

/**
 * A KV namespace that behaves like `kv` except where a hook says otherwise
 * (e.g. a stale read, or a look at the world at the moment of a write).
 */
export function kvWithHooks(
  kv: KVNamespace,
  hooks: {
    /** Return a value to answer `get(key, …)` with it instead of reading KV; `undefined` reads KV. */
    get?: (key: string) => unknown;
    /** Runs before each `put`, and the put waits for it. */
    beforePut?: (key: string, value: string) => Promise<void> | void;
  },
): KVNamespace {
  return new Proxy(kv, {
    get(target, property) {
      if (property === 'get' && hooks.get) {
        return async (key: string, ...rest: unknown[]) => {
          const replaced = hooks.get!(key);
          if (replaced !== undefined) return replaced;
          return (target.get as (...args: unknown[]) => Promise<unknown>).call(target, key, ...rest);
        };
      }
      if (property === 'put' && hooks.beforePut) {
        return async (key: string, value: string, ...rest: unknown[]) => {
          await hooks.beforePut!(key, value);
          return (target.put as (...args: unknown[]) => Promise<void>).call(target, key, value, ...rest);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Fakes `Date` only (timers stay real) from a whole second; `at(n)` sets the
 * clock to `n` seconds after that start. Restore with `vi.useRealTimers()`.
 */
export function startClock(): { start: number; at(seconds: number): void } {
  vi.useFakeTimers({ toFake: ['Date'] });
  const start = Math.floor(Date.now() / 1000) * 1000;
  vi.setSystemTime(start);
  return {
    start,
    at(seconds: number) {
      vi.setSystemTime(start + seconds * 1000);
    },
  };
}
