/** The dev provider's fixed settings: issuer path, port, scopes, clients and registered URIs. */

/** The team path of the dev issuer, as in Kenni's `https://idp.kenni.is/<team-domain>`. */
export const DEV_TEAM_PATH = '/dev-team.is';

/** Where `npm run dev` runs the provider. */
export const DEV_PROVIDER_PORT = 9400;

/** The API scopes the provider knows; requesting one yields a JWT access token. */
export const DEV_API_SCOPES = ['@dev-team.is/api.read', '@dev-team.is/api.write'] as const;

/**
 * The operators' scope for `POST /auth/admin/revoke` (`KENNI_ADMIN_SCOPE` under
 * `npm run dev`): granted to the machine client only, never at a user's login.
 */
export const DEV_ADMIN_SCOPE = '@dev-team.is/sessions.admin';

/** The `aud` of JWT access tokens: Kenni's `<client_id>-api` convention for the web client. */
export const DEV_API_AUDIENCE = '@dev-team.is/web-api';

/**
 * The resource indicator (RFC 8707) the provider uses internally for the API.
 * Clients never send it: it is chosen whenever an API scope is requested.
 */
export const DEV_API_RESOURCE = 'urn:dev-team.is:web-api';

/** The OpenID scopes the provider supports (besides the API scopes). */
export const DEV_OIDC_SCOPES = ['openid', 'profile', 'national_id', 'offline_access'] as const;

/** Redirect URIs registered for the web and SPA clients (besides `extraRedirectUris`). */
export const DEV_REDIRECT_URIS = [
  'http://localhost:8787/auth/callback',
  'http://127.0.0.1:8787/auth/callback',
  'https://edge.test/auth/callback',
] as const;

/** Post-logout redirect URIs registered for the web and SPA clients (besides extras). */
export const DEV_POST_LOGOUT_REDIRECT_URIS = [
  'http://localhost:8787/',
  'http://127.0.0.1:8787/',
  'https://edge.test/',
] as const;

/** The registered clients, with the credentials the dev setup uses. */
export const DEV_CLIENTS = {
  /** Confidential browser client (the edge's default), `client_secret_basic`. */
  web: {
    client_id: '@dev-team.is/web',
    client_secret: 'dev-web-secret-change-me',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  /** Public client (PKCE is the only proof), auth method `none`. */
  spa: {
    client_id: '@dev-team.is/spa',
    client_secret: undefined,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  /**
   * Client-credentials client. Its secret holds characters that must be
   * form-encoded before Basic auth.
   * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
   */
  m2m: {
    client_id: '@dev-team.is/m2m',
    client_secret: 'm2m:s3cret+%/x=',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
  },
} as const;

/** The edge's back-channel logout endpoint under `npm run dev`, registered for the web client by default. */
export const DEV_BACKCHANNEL_LOGOUT_URI = 'http://localhost:8787/auth/backchannel-logout';
