/**
 * One complete login through the edge against the scripted provider, for every
 * test folder: a provider tenant ready for logins (discovery and a signing key
 * in its JWKS), and `/auth/login` → a scripted token response →
 * `/auth/callback`, returning what the login left behind (the session id, its
 * KV key, the ID token and its claims). The folders' own helpers (`logIn`,
 * `signIn`, `setUpGateway`, …) are thin wrappers that choose their defaults.
 */
import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { Env } from '../../src/config.ts';
import type { TestEdge } from './edge.ts';
import { sha256Hex } from './hash.ts';
import { SESSION_COOKIE } from './presets.ts';
import {
  createScriptedProvider,
  tokenResponse,
  type ScriptedProvider,
  type TokenResponseFields,
} from './scripted-provider.ts';
import { generateTestKey, makeIdTokenClaims, signJwt, type Claims, type TestKey } from './token-factory.ts';

/** The session cookie of the contract. */
export { SESSION_COOKIE } from './presets.ts';

/** The token response fields a login gets unless the caller overrides them (the access token is random). */
const DEFAULT_LOGIN_TOKEN_FIELDS: TokenResponseFields = { expires_in: 300, refresh_token: 'refresh-1' };

let fileKey: Promise<TestKey> | undefined;

/**
 * An RS256 signing key generated once per test file (each file has its own
 * module instance), for files whose providers all sign with the same key.
 */
export function fileSigningKey(): Promise<TestKey> {
  fileKey ??= generateTestKey('RS256');
  return fileKey;
}

/** Options of {@link createLoginProvider}. */
export interface LoginProviderOptions {
  /** The key the provider signs with and publishes in its JWKS. Default: a new RS256 key. */
  key?: TestKey;
  /** Merged into the discovery document (a key set to `undefined` is removed). */
  discovery?: Record<string, unknown>;
  /** `false` leaves the discovery document unscripted (the test serves its own). Default true. */
  serveDiscovery?: boolean;
}

/** A scripted provider ready for logins, and the key its ID tokens are signed with. */
export interface LoginProvider {
  provider: ScriptedProvider;
  key: TestKey;
}

/** Creates a scripted provider tenant with a discovery document and `key` (or a new RS256 key) in its JWKS. */
export async function createLoginProvider(options: LoginProviderOptions = {}): Promise<LoginProvider> {
  const provider = await createScriptedProvider();
  if (options.serveDiscovery !== false) await provider.serveDiscovery(options.discovery);
  const key = options.key ?? (await generateTestKey('RS256'));
  await provider.serveJwks([key]);
  return { provider, key };
}

/** What the token endpoint answers a login with, from {@link serveLoginTokens}. */
export interface ServedLoginTokens {
  /** The signed ID token. */
  idToken: string;
  /** The ID token's claims. */
  claims: Claims;
  /** The JSON body of the token response (`id_token`, `access_token`, `refresh_token`, `expires_in`, …). */
  tokenResponseBody: Record<string, unknown>;
}

/** Options of {@link serveLoginTokens}. */
export interface LoginTokenOptions {
  /** The nonce of the authorization request the ID token answers. */
  nonce: string;
  /** The edge's client id (the ID token's audience). */
  clientId: string;
  /** Override ID token claims (`undefined` removes one); default claims are those of `makeIdTokenClaims`. */
  claims?: Claims;
  /**
   * Token response fields besides `id_token`, over the defaults `expires_in:
   * 300`, `refresh_token: 'refresh-1'` and a random `access_token`
   * (`undefined` removes a field).
   */
  token?: TokenResponseFields;
}

/** Signs an ID token for a login with `key` and scripts the provider's token endpoint to answer with it. */
export async function serveLoginTokens(
  provider: ScriptedProvider,
  key: TestKey,
  options: LoginTokenOptions,
): Promise<ServedLoginTokens> {
  const claims = makeIdTokenClaims({
    issuer: provider.issuer,
    clientId: options.clientId,
    nonce: options.nonce,
    ...options.claims,
  });
  const idToken = await signJwt(key, claims);
  const reply = tokenResponse({ id_token: idToken, ...DEFAULT_LOGIN_TOKEN_FIELDS, ...options.token });
  await provider.serveToken(reply);
  return { idToken, claims, tokenResponseBody: reply.json as Record<string, unknown> };
}

/** Options of {@link logInAt}. */
export interface LogInOptions {
  /** Where the login starts, e.g. `/auth/login?return_to=/x`. Default `/auth/login`. */
  loginPath?: string;
  /** Request headers of `GET /auth/login` (e.g. Fetch Metadata of a navigation). Default none. */
  loginHeaders?: Record<string, string>;
  /** Request headers of `GET /auth/callback`. Default none. */
  callbackHeaders?: Record<string, string>;
  /** The authorization code in the callback. Default `c`. */
  code?: string;
  /** Override ID token claims (`undefined` removes one). */
  claims?: Claims;
  /** Token response fields besides `id_token` (see {@link LoginTokenOptions.token}). */
  token?: TokenResponseFields;
}

/** What a completed scripted login left behind. */
export interface ScriptedLogin extends ServedLoginTokens {
  /** The authorization request `/auth/login` redirected the browser to. */
  authorize: URL;
  /** The edge's answer to the callback (a 302 that set the session cookie). */
  callback: Response;
  /** The session cookie's value, as the browser's cookie jar holds it. */
  sessionId: string;
  /** The callback's `Set-Cookie` line of the session cookie. */
  sessionCookie: string;
  /** Lower-case hex SHA-256 of the session id. */
  keyHash: string;
  /** The session's KV key: `session:<keyHash>`. */
  kvKey: string;
  /** The ID token's subject. */
  sub: string;
  /** The access token the token endpoint issued. */
  accessToken: string;
}

/**
 * Logs `edge` (one browser) in against the scripted `provider`, whose ID
 * tokens `key` signs: `GET /auth/login`, the token endpoint scripted with an
 * ID token for that login's nonce, then `GET /auth/callback` with the login's
 * state. Asserts both redirects, the session cookie and its KV record. Leaves
 * the token endpoint scripted with the login's reply.
 */
export async function logInAt(
  edge: TestEdge,
  provider: ScriptedProvider,
  key: TestKey,
  options: LogInOptions = {},
): Promise<ScriptedLogin> {
  const login = await edge.fetch(options.loginPath ?? '/auth/login', { headers: options.loginHeaders });
  expect(login.status).toBe(302);
  const authorize = new URL(login.headers.get('location')!);
  const served = await serveLoginTokens(provider, key, {
    nonce: authorize.searchParams.get('nonce')!,
    clientId: String(edge.env.KENNI_CLIENT_ID),
    claims: options.claims,
    token: options.token,
  });
  const query = new URLSearchParams({
    code: options.code ?? 'c',
    state: authorize.searchParams.get('state')!,
    iss: provider.issuer,
  });
  const callback = await edge.fetch(`/auth/callback?${query}`, { headers: options.callbackHeaders });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionCookie = callback.headers.getSetCookie().find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
  expect(sessionCookie).toMatch(/^__Host-kenni-session=[\w-]{43};/);
  const sessionId = edge.jar.get(SESSION_COOKIE);
  expect(sessionId).toMatch(/^[\w-]{43}$/);
  const keyHash = await sha256Hex(sessionId!);
  const kvKey = `session:${keyHash}`;
  expect(await (env as unknown as Env).SESSIONS.get(kvKey)).not.toBeNull();
  return {
    ...served,
    authorize,
    callback,
    sessionId: sessionId!,
    sessionCookie: sessionCookie!,
    keyHash,
    kvKey,
    sub: String(served.claims.sub),
    accessToken: String(served.tokenResponseBody.access_token),
  };
}

/** Asserts the response clears the session cookie: same name and attributes, empty value, `Max-Age=0`, no `Domain`. */
export function expectSessionCookieCleared(response: Response): void {
  const cleared = response.headers.getSetCookie().filter((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
  expect(cleared).toHaveLength(1);
  const attributes = cleared[0]!.split(';').map((part) => part.trim());
  expect(attributes[0]).toBe(`${SESSION_COOKIE}=`);
  expect(attributes).toContain('Max-Age=0');
  expect(attributes).toContain('Path=/');
  expect(attributes).toContain('Secure');
  expect(attributes).toContain('HttpOnly');
  expect(cleared[0]!.toLowerCase()).not.toContain('domain=');
}
