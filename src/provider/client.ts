/**
 * The relying-party side of OpenID Connect with oauth4webapi: the authorization
 * request, the code exchange with full ID token validation (claims by
 * oauth4webapi, signature against the provider's JWKS with jose), refresh,
 * client credentials, token revocation and RP-initiated logout. The provider
 * object (`./index.ts`) calls these with its discovery document and verifiers.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 */
import * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { providerRequestOptions } from './discovery.ts';
import type { IdTokenVerifier } from './id-token.ts';
import { assertProviderAvailable } from './provider-fetch.ts';
import { processTokenResponse, toProviderTokens, type ProviderTokens } from './token-response.ts';

export type { ProviderTokens } from './token-response.ts';

/** The result of a completed login: validated ID token claims and the tokens. */
export interface LoginResult {
  claims: oauth.IDToken;
  tokens: ProviderTokens;
}

/** The relying party's client metadata and authentication for oauth4webapi. */
export function createClient(config: KenniEdgeConfig): { client: oauth.Client; clientAuth: oauth.ClientAuth } {
  return {
    client: { client_id: config.clientId, [oauth.clockTolerance]: config.clockTolerance },
    // ClientSecretBasic form-encodes id and secret before base64 (RFC 6749 §2.3.1): Kenni ids contain "@" and "/".
    clientAuth: config.clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(config.clientSecret),
  };
}

/** Parameters of one authorization request. */
export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  prompt?: string;
  uiLocales?: string;
  /** Step-up: the longest time since the person last authenticated, seconds (`max_age`). */
  maxAge?: number;
}

/**
 * Builds the authorization endpoint URL (code flow, PKCE S256, state, nonce).
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.3
 */
export function buildAuthorizationUrl(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  request: AuthorizationRequest,
): URL {
  if (!server.authorization_endpoint) {
    throw new AppError('provider_unreachable', 'The provider publishes no authorization endpoint.');
  }
  const url = new URL(server.authorization_endpoint);
  const scope = requestedScope(config);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', request.redirectUri);
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', request.state);
  url.searchParams.set('nonce', request.nonce);
  url.searchParams.set('code_challenge', request.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (request.prompt) url.searchParams.set('prompt', request.prompt);
  if (request.uiLocales) url.searchParams.set('ui_locales', request.uiLocales);
  if (request.maxAge !== undefined) url.searchParams.set('max_age', String(request.maxAge));
  return url;
}

/**
 * The scope a login asks for: `KENNI_SCOPE` plus the API scopes, once each. A
 * token response without `scope` granted exactly this.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function requestedScope(config: KenniEdgeConfig): string {
  return [...new Set([...config.scope.split(/\s+/), ...config.apiScopes].filter(Boolean))].join(' ');
}

/** An `error_description` about delegations (Kenni's "no delegations found" and the like, English or Icelandic). */
const SPEAKS_OF_DELEGATIONS = /delegat|umbo[ðd]/i;

/** Longest authorization code accepted; anything longer is not a code this edge sends on. */
const MAX_AUTHORIZATION_CODE_LENGTH = 4096;

/**
 * Validates the authorization response: `state`, the `iss` parameter where the
 * provider advertises it, a provider `error`, and the presence of `code`.
 * @see https://www.rfc-editor.org/rfc/rfc9207
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
export function validateCallbackParameters(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  callbackUrl: URL,
  expectedState: string,
): URLSearchParams {
  const { client } = createClient(config);
  try {
    const parameters = oauth.validateAuthResponse(server, client, callbackUrl, expectedState);
    const code = parameters.get('code');
    if (!code || code.length > MAX_AUTHORIZATION_CODE_LENGTH) {
      throw new AppError(
        'login_state_invalid',
        'The sign-in response carried no authorization code. Please start again.',
        { reason: 'code_missing', retryHref: '/auth/login' },
      );
    }
    return parameters;
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = /^[a-z_]{1,64}$/.test(error.error) ? error.error : 'unknown_error';
      throw new AppError(
        code === 'access_denied' ? 'access_denied' : 'provider_error',
        code === 'access_denied'
          ? 'Sign-in was cancelled or access was denied.'
          : `The sign-in provider reported an error: ${code}.`,
        {
          oauthError: code,
          retryHref: '/auth/login',
          // Kenni answers access_denied when the person has no delegation to pick; only this mark is kept of its text.
          ...(code === 'access_denied' && SPEAKS_OF_DELEGATIONS.test(error.error_description ?? '')
            ? { reason: 'no_delegations' }
            : {}),
        },
      );
    }
    throw new AppError('login_state_invalid', 'The sign-in response did not match this sign-in attempt.', {
      cause: error,
      retryHref: '/auth/login',
    });
  }
}

/**
 * Exchanges the authorization code (with the PKCE verifier) and validates the
 * ID token: signature against the JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `sub`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export async function exchangeAuthorizationCode(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  idTokens: IdTokenVerifier,
  params: { callbackParameters: URLSearchParams; redirectUri: string; codeVerifier: string; nonce: string },
): Promise<LoginResult> {
  const { client, clientAuth } = createClient(config);
  const response = await oauth.authorizationCodeGrantRequest(
    server,
    client,
    clientAuth,
    params.callbackParameters,
    params.redirectUri,
    params.codeVerifier,
    providerRequestOptions(config),
  );
  const result = await processTokenResponse(
    () =>
      oauth.processAuthorizationCodeResponse(server, client, response, {
        expectedNonce: params.nonce,
        requireIdToken: true,
      }),
    response,
  );
  const claims = oauth.getValidatedIdTokenClaims(result);
  if (!claims || !result.id_token)
    throw new AppError('id_token_invalid', 'The provider returned no ID token.', { retryHref: '/auth/login' });
  await idTokens.verify(server, result.id_token);
  return { claims, tokens: toProviderTokens(result) };
}

/**
 * Uses a refresh token. A provider that returns no new refresh token keeps the
 * old one; a refreshed ID token must carry the same `iss`, `sub` and `aud`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
export async function refreshTokens(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  idTokens: IdTokenVerifier,
  current: ProviderTokens,
  subject: string,
): Promise<{ tokens: ProviderTokens; claims: oauth.IDToken | undefined }> {
  if (!current.refresh_token)
    throw new AppError('invalid_grant', 'The session has no refresh token.', { oauthError: 'invalid_grant' });
  const { client, clientAuth } = createClient(config);
  const response = await oauth.refreshTokenGrantRequest(
    server,
    client,
    clientAuth,
    current.refresh_token,
    providerRequestOptions(config),
  );
  const result = await processTokenResponse(
    () => oauth.processRefreshTokenResponse(server, client, response),
    response,
  );
  const claims = oauth.getValidatedIdTokenClaims(result);
  if (result.id_token) {
    await idTokens.verify(server, result.id_token);
    if (!claims || claims.sub !== subject || claims.iss !== config.issuer) {
      throw new AppError('id_token_invalid', 'The refreshed ID token belongs to another subject.', {
        oauthError: 'invalid_grant',
      });
    }
  }
  const tokens = toProviderTokens(result);
  return {
    tokens: {
      ...tokens,
      refresh_token: tokens.refresh_token ?? current.refresh_token,
      id_token: tokens.id_token ?? current.id_token,
    },
    claims,
  };
}

/**
 * Runs a client-credentials grant for the given client.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export async function requestClientCredentialsToken(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  credentials: { clientId: string; clientSecret: string },
  scope: string | undefined,
): Promise<ProviderTokens> {
  const client: oauth.Client = { client_id: credentials.clientId, [oauth.clockTolerance]: config.clockTolerance };
  const parameters = new URLSearchParams();
  if (scope) parameters.set('scope', scope);
  const response = await oauth.clientCredentialsGrantRequest(
    server,
    client,
    oauth.ClientSecretBasic(credentials.clientSecret),
    parameters,
    providerRequestOptions(config),
  );
  const result = await processTokenResponse(
    () => oauth.processClientCredentialsResponse(server, client, response),
    response,
  );
  return toProviderTokens(result);
}

/**
 * The RP-initiated logout URL (`id_token_hint`, `post_logout_redirect_uri`,
 * `client_id`), or `undefined` when the provider has no `end_session_endpoint`.
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html#RPLogout
 */
export function buildEndSessionUrl(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  params: { idToken?: string; postLogoutRedirectUri: string },
): URL | undefined {
  if (!server.end_session_endpoint) return undefined;
  const url = new URL(server.end_session_endpoint);
  if (params.idToken) url.searchParams.set('id_token_hint', params.idToken);
  url.searchParams.set('post_logout_redirect_uri', params.postLogoutRedirectUri);
  url.searchParams.set('client_id', config.clientId);
  return url;
}

/**
 * Revokes a refresh token at the provider's `revocation_endpoint` (client
 * authentication as for the token endpoint), so a refresh racing elsewhere gets
 * `invalid_grant`. Returns false when the provider has no such endpoint; throws
 * `provider_unreachable` (502) when it is down or refuses.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeRefreshToken(
  config: KenniEdgeConfig,
  server: oauth.AuthorizationServer,
  refreshToken: string,
): Promise<boolean> {
  if (!server.revocation_endpoint) return false;
  const { client, clientAuth } = createClient(config);
  const response = await oauth.revocationRequest(server, client, clientAuth, refreshToken, {
    ...providerRequestOptions(config),
    additionalParameters: { token_type_hint: 'refresh_token' },
  });
  assertProviderAvailable(response);
  try {
    await oauth.processRevocationResponse(response);
  } catch (cause) {
    throw new AppError('provider_unreachable', 'The sign-in provider did not revoke the token.', {
      cause,
      reason: 'revocation_refused',
    });
  }
  return true;
}
