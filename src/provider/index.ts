/**
 * The provider object: everything that talks to or trusts Kenni, created once
 * per isolate for a configuration. It owns discovery, the oauth4webapi client
 * (authorization URL, code exchange, refresh, client credentials, revocation,
 * end-session URL), the key set and the token verifiers, and with them all the
 * isolate state those keep. A new configuration object is a new provider: that
 * is how tests get a cold isolate.
 */
import type { JWTPayload } from 'jose';
import type * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AccessTokenVerifier, type VerifiedAccessToken, type VerifyAccessTokenOptions } from './access-token.ts';
import * as client from './client.ts';
import { Discovery, type DiscoveryStatus } from './discovery.ts';
import { IdTokenVerifier } from './id-token.ts';
import { Introspector } from './introspection.ts';
import { jwksCacheOptions, KeySet } from './key-set.ts';
import { LogoutTokenVerifier, type ReplayGuard, type VerifiedLogoutToken } from './logout-token.ts';

export type { AuthorizationRequest, LoginResult, ProviderTokens } from './client.ts';
export type { VerifiedAccessToken, VerifyAccessTokenOptions } from './access-token.ts';
export type { DiscoveryStatus } from './discovery.ts';
export type { KeySetStatus } from './key-set.ts';
export { KeySetError, type KeySetErrorCode } from './key-set.ts';
export { OPAQUE_ACCESS_TOKEN } from './introspection.ts';
export { BACKCHANNEL_LOGOUT_EVENT, type ReplayGuard, type VerifiedLogoutToken } from './logout-token.ts';

/**
 * What a provider object has done in this isolate (read-only; tests and benchmarks read it).
 * @example
 * const provider = loadProvider(c.var.config);
 * const server = await provider.discovery();
 */
export interface ProviderStats {
  /** Discovery documents fetched from the provider. */
  readonly discoveryFetches: number;
  /** Key sets (JWKS) fetched from the provider. */
  readonly jwksFetches: number;
  /** Client-credentials grants sent to the token endpoint. */
  readonly clientCredentialsRequests: number;
  /** Introspection requests (RFC 7662) sent for opaque access tokens. */
  readonly introspections: number;
}

/** Parameters of the code exchange that completes a login. */
export interface CodeExchange {
  callbackParameters: URLSearchParams;
  redirectUri: string;
  codeVerifier: string;
  nonce: string;
}

/**
 * Everything that talks to or trusts the OpenID provider, for one configuration.
 * Methods load discovery themselves (an isolate lookup when warm). Failures are
 * `AppError`s: `provider_unreachable` (502) when the provider is down.
 * @example
 * const provider = loadProvider(c.var.config);
 * const server = await provider.discovery();
 */
export interface Provider {
  /** The configuration this provider was created for. */
  readonly config: KenniEdgeConfig;
  /** Counters of provider requests made by this instance. */
  readonly stats: ProviderStats;
  /** The provider's signing keys (isolate + Cache API, kid cooldown, stale-if-error). */
  readonly keys: KeySet;
  /** Access-token verification against any discovery document (library use: {@link verifyAccessToken}). */
  readonly accessTokens: AccessTokenVerifier;
  /** ID-token signature verification against any discovery document. */
  readonly idTokens: IdTokenVerifier;
  /**
   * The provider's discovery document (isolate, then Cache API, then the provider).
   * @see https://openid.net/specs/openid-connect-discovery-1_0.html
   */
  discovery(): Promise<oauth.AuthorizationServer>;
  /** The discovery copy held in this isolate (its age, stale or not), or `undefined` before the first load. */
  readonly discoveryStatus: DiscoveryStatus | undefined;
  /** The authorization endpoint URL of a login (code flow, PKCE S256, state, nonce). */
  authorizationUrl(request: client.AuthorizationRequest): Promise<URL>;
  /** Validates the authorization response (`state`, `iss`, provider `error`, `code`) and returns its parameters. */
  validateCallback(callbackUrl: URL, expectedState: string): Promise<URLSearchParams>;
  /** Exchanges the code and validates the ID token (claims and signature). */
  exchangeCode(params: CodeExchange): Promise<client.LoginResult>;
  /** Uses a refresh token; a refreshed ID token must belong to `subject`. */
  refresh(
    current: client.ProviderTokens,
    subject: string,
  ): Promise<{ tokens: client.ProviderTokens; claims: oauth.IDToken | undefined }>;
  /** A client-credentials grant for `credentials` (uncached; see `getClientCredentialsToken`). */
  clientCredentials(
    credentials: { clientId: string; clientSecret: string },
    scope: string | undefined,
  ): Promise<client.ProviderTokens>;
  /** The RP-initiated logout URL, or `undefined` when the provider has no `end_session_endpoint`. */
  endSessionUrl(params: { idToken?: string; postLogoutRedirectUri: string }): Promise<URL | undefined>;
  /** Revokes a refresh token (RFC 7009); false when the provider has no revocation endpoint. */
  revokeRefreshToken(refreshToken: string): Promise<boolean>;
  /** Verifies an access token against this provider's own discovery document. */
  verifyAccessToken(token: string, options?: VerifyAccessTokenOptions): Promise<VerifiedAccessToken>;
  /** Verifies an ID token's signature, `iss`, `aud` and `iat` against this provider's keys. */
  verifyIdToken(idToken: string): Promise<JWTPayload>;
  /**
   * Validates a back-channel logout token completely and claims its `jti` in
   * this isolate and through `replay` (KV, the lock object). Refusals are
   * `logout_token_invalid` (400 `invalid_request`).
   * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
   */
  verifyLogoutToken(logoutToken: string, replay: ReplayGuard): Promise<VerifiedLogoutToken>;
  /**
   * Checks an opaque access token by introspection (cached, rate limited); `undefined`
   * with `KENNI_INTROSPECTION=off`. Refusals are `bearer_invalid` (401).
   * @see https://www.rfc-editor.org/rfc/rfc7662
   */
  readonly introspect?: (token: string, options?: VerifyAccessTokenOptions) => Promise<VerifiedAccessToken>;
}

/** Creates a provider for `config` with empty isolate state; most code wants {@link loadProvider}. */
export function createProvider(config: KenniEdgeConfig): Provider {
  const discovery = new Discovery(config);
  const keys = new KeySet(jwksCacheOptions(config));
  const accessTokens = new AccessTokenVerifier(config, keys);
  const idTokens = new IdTokenVerifier(config, keys);
  const logoutTokens = new LogoutTokenVerifier(config, keys);
  const introspector = new Introspector(config);
  let clientCredentialsRequests = 0;
  const load = () => discovery.load();
  return {
    config,
    stats: {
      get discoveryFetches() {
        return discovery.fetches;
      },
      get jwksFetches() {
        return keys.fetches;
      },
      get clientCredentialsRequests() {
        return clientCredentialsRequests;
      },
      get introspections() {
        return introspector.calls;
      },
    },
    keys,
    accessTokens,
    idTokens,
    discovery: load,
    get discoveryStatus() {
      return discovery.status;
    },
    authorizationUrl: async (request) => client.buildAuthorizationUrl(config, await load(), request),
    validateCallback: async (callbackUrl, expectedState) =>
      client.validateCallbackParameters(config, await load(), callbackUrl, expectedState),
    exchangeCode: async (params) => client.exchangeAuthorizationCode(config, await load(), idTokens, params),
    refresh: async (current, subject) => client.refreshTokens(config, await load(), idTokens, current, subject),
    clientCredentials: async (credentials, scope) => {
      const server = await load();
      clientCredentialsRequests++;
      return client.requestClientCredentialsToken(config, server, credentials, scope);
    },
    endSessionUrl: async (params) => client.buildEndSessionUrl(config, await load(), params),
    revokeRefreshToken: async (refreshToken) => client.revokeRefreshToken(config, await load(), refreshToken),
    verifyAccessToken: async (token, options) => accessTokens.verify(await load(), token, options),
    verifyIdToken: async (idToken) => idTokens.verify(await load(), idToken),
    verifyLogoutToken: async (logoutToken, replay) => logoutTokens.verify(await load(), logoutToken, replay),
    ...(config.introspection === 'auto'
      ? {
          introspect: async (token: string, options?: VerifyAccessTokenOptions) =>
            introspector.introspect(await load(), token, options),
        }
      : {}),
  };
}

const providers = new WeakMap<KenniEdgeConfig, Provider>();

/**
 * The provider for `config`, created on first use and then kept for as long as
 * the configuration object lives (one per isolate, as `loadConfig` keeps one
 * configuration per `env`).
 * @example
 * const provider = loadProvider(loadConfig(env));
 * const { claims } = await provider.verifyAccessToken(token, { requiredScopes: ['@your-team.is/orders.read'] });
 */
export function loadProvider(config: KenniEdgeConfig): Provider {
  let provider = providers.get(config);
  if (!provider) {
    provider = createProvider(config);
    providers.set(config, provider);
  }
  return provider;
}

/**
 * Verifies a bearer JWT issued by the configured provider, for apps that call
 * it directly: JWS compact only, an advertised asymmetric algorithm, a key of
 * the provider's JWKS, exact `iss` and `aud`, `exp` required. Throws `AppError`
 * `bearer_invalid` (401) or `insufficient_scope` (403).
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @example
 * const config = loadConfig(env);
 * const server = await loadProvider(config).discovery();
 * const { claims, scopes } = await verifyAccessToken(config, server, token, { requiredScopes: ['@your-team.is/orders.read'] });
 */
export function verifyAccessToken(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  token: string,
  options: VerifyAccessTokenOptions = {},
): Promise<VerifiedAccessToken> {
  return loadProvider(config).accessTokens.verify(server, token, options);
}
