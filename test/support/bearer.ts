/**
 * The scaffold the bearer and edge-cache tests share: one tenant's client id,
 * API audience and scope, a scripted provider publishing a signing key, access
 * tokens for it, and a frozen `Date` per test.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { coldIsolate, createTestEdge, type TestEdge } from './edge.ts';
import { testEvents } from './log-capture.ts';
import { createScriptedProvider, type Reply, type ScriptedProvider } from './scripted-provider.ts';
import {
  generateTestKey,
  makeAccessTokenClaims,
  signJwt,
  type Claims,
  type HeaderOverrides,
  type TestKey,
  type TestKeyAlg,
} from './token-factory.ts';

/** The web client of the test tenant (`KENNI_CLIENT_ID`). */
export const CLIENT_ID = '@t.is/web';
/** Kenni's convention: `<client_id>-api`, the default `KENNI_API_AUDIENCE`. */
export const AUDIENCE = '@t.is/web-api';
/** The API scope the tests configure as `KENNI_API_SCOPE`. */
export const API_SCOPE = '@t.is/orders.read';
/** The `resource_metadata` auth-param every Bearer challenge on an API route ends with (RFC 9728 §5.1). */
export const RESOURCE_METADATA_PARAM = 'resource_metadata="https://edge.test/.well-known/oauth-protected-resource"';
/** The instant `Date` is frozen at by {@link freezeDateEachTest}, in ms. */
export const NOW = new Date('2026-06-17T12:00:00Z').getTime();

/** Freezes `Date` (only; timers stay real) at {@link NOW} before each test, and restores clocks and mocks after it. */
export function freezeDateEachTest(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}

/** Options for {@link startKeyedProvider}. */
export interface KeyedProviderOptions {
  /** The key's algorithm (default RS256). */
  alg?: TestKeyAlg;
  /** Overrides of the discovery document. */
  discovery?: Record<string, unknown>;
  /** How `jwks_uri` answers (headers, status). */
  jwksReply?: Omit<Reply, 'json' | 'body'>;
  /** Publish the key at the provider's own `jwks_uri` (default true). */
  serveJwks?: boolean;
}

/** A scripted provider serving discovery and a JWKS with one new signing key. */
export async function startKeyedProvider(
  options: KeyedProviderOptions = {},
): Promise<{ provider: ScriptedProvider; key: TestKey }> {
  const provider = await createScriptedProvider();
  await provider.serveDiscovery(options.discovery);
  const key = await generateTestKey(options.alg ?? 'RS256');
  if (options.serveJwks ?? true) await provider.serveJwks([key], options.jwksReply);
  return { provider, key };
}

/** A valid access token of `provider` for {@link AUDIENCE} with {@link API_SCOPE}, signed by `key`, with overrides. */
export function accessToken(
  provider: ScriptedProvider,
  key: TestKey,
  overrides: Claims = {},
  header: HeaderOverrides = {},
): Promise<string> {
  return signJwt(
    key,
    makeAccessTokenClaims({ issuer: provider.issuer, audience: AUDIENCE, scope: API_SCOPE, ...overrides }),
    header,
  );
}

/** The JSON log lines the current test wrote for `event`. */
export function loggedEvents(event: string): Array<Record<string, unknown>> {
  return testEvents().filter((entry) => entry.event === event);
}

/** An edge in front of a keyed scripted provider, with `/auth/verify` and fetch counters at hand. */
export interface VerifyingEdge {
  provider: ScriptedProvider;
  key: TestKey;
  /** The edge `verify` calls; `coldIsolate()` replaces it with a new isolate. */
  edge: TestEdge;
  /** From now on, `verify` goes to a new isolate (no discovery or keys held; the same Cache API). */
  coldIsolate(): void;
  /** A valid access token signed by `signer` (default `key`). */
  token(signer?: TestKey, overrides?: Claims, header?: HeaderOverrides): Promise<string>;
  /** `GET /auth/verify` with the token. */
  verify(token: string): Promise<Response>;
  /** How many times the provider's `jwks_uri` was requested so far. */
  jwksFetches(): Promise<number>;
  /** How many times the provider's discovery document was requested so far. */
  discoveryFetches(): Promise<number>;
}

/** {@link startKeyedProvider} and an edge configured for it (client, API scope, and `edge` vars on top). */
export async function setUpVerifyingEdge(
  options: KeyedProviderOptions & { edge?: Record<string, unknown> } = {},
): Promise<VerifyingEdge> {
  const { provider, key } = await startKeyedProvider(options);
  const setup: VerifyingEdge = {
    provider,
    key,
    edge: createTestEdge({
      KENNI_ISSUER: provider.issuer,
      KENNI_CLIENT_ID: CLIENT_ID,
      KENNI_API_SCOPE: API_SCOPE,
      ...options.edge,
    }),
    coldIsolate: () => {
      setup.edge = coldIsolate(setup.edge);
    },
    token: (signer = key, overrides = {}, header = {}) => accessToken(provider, signer, overrides, header),
    verify: (token) => setup.edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` } }),
    jwksFetches: async () => (await provider.requests({ path: '/oidc/jwks' })).length,
    discoveryFetches: async () => (await provider.requests({ path: '/.well-known/openid-configuration' })).length,
  };
  return setup;
}
