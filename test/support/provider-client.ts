/**
 * A tiny OpenID client for tests that talk to the real dev provider
 * (dev/provider.ts) directly, without the edge: builds an authorization
 * request (PKCE S256) for a dev client, signs in with the scripted login, and
 * redeems the code. Uses only `fetch`, Web Crypto and jose, so it runs in
 * workerd and in Node alike.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { EDGE_ORIGIN } from './presets.ts';
import { signInAtProvider, type SignInOptions, type SignInResult } from './provider-login.ts';

/** The web client of the dev provider (DEV_CLIENTS.web), `client_secret_basic`. */
export const WEB_CLIENT = { client_id: '@dev-team.is/web', client_secret: 'dev-web-secret-change-me' } as const;
/** The public SPA client of the dev provider (DEV_CLIENTS.spa). */
export const SPA_CLIENT_ID = '@dev-team.is/spa';
/** A redirect URI registered for both browser clients (DEV_REDIRECT_URIS). */
export const REDIRECT_URI = `${EDGE_ORIGIN}/auth/callback`;
/** A post-logout redirect URI registered for both browser clients. */
export const POST_LOGOUT_REDIRECT_URI = `${EDGE_ORIGIN}/`;
/** An API scope: asking for it makes the access token a JWT with `aud` `@dev-team.is/web-api`. */
export const API_SCOPE = '@dev-team.is/api.read';

/** The discovery fields the tests use. */
export interface ProviderDiscovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
  [name: string]: unknown;
}

/** Fetches the provider's discovery document. */
export async function loadDiscovery(issuer: string): Promise<ProviderDiscovery> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (response.status !== 200) throw new Error(`discovery answered ${response.status}`);
  return (await response.json()) as ProviderDiscovery;
}

/** What an authorization request asks for. */
export interface AuthorizationRequest {
  /** Default `openid profile national_id`. */
  scope?: string;
  prompt?: string;
  max_age?: number;
  /** Default the web client; the SPA client has no secret. */
  client_id?: string;
}

/** A finished sign-in: where the provider sent the browser back, and the PKCE verifier for the code. */
export interface AuthorizationResult extends SignInResult {
  /** The callback's query: `code` or `error`/`error_description`, `state`, `iss`. */
  callback: URLSearchParams;
  codeVerifier: string;
  client_id: string;
}

/** Sends an authorization request through the provider's pages with the scripted login. */
export async function authorize(
  discovery: ProviderDiscovery,
  request: AuthorizationRequest,
  signIn: SignInOptions,
): Promise<AuthorizationResult> {
  const codeVerifier = randomToken();
  const challenge = await sha256Base64url(codeVerifier);
  const clientId = request.client_id ?? WEB_CLIENT.client_id;
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: request.scope ?? 'openid profile national_id',
    state: randomToken(),
    nonce: randomToken(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(request.prompt === undefined ? {} : { prompt: request.prompt }),
    ...(request.max_age === undefined ? {} : { max_age: String(request.max_age) }),
  }).toString();
  const result = await signInAtProvider(url.href, signIn);
  return { ...result, callback: new URL(result.callbackUrl).searchParams, codeVerifier, client_id: clientId };
}

/** A token endpoint answer. */
export interface TokenSet {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  token_type: string;
  scope?: string;
}

/** Redeems the authorization code of `result` at the token endpoint (Basic auth for the web client). */
export async function redeemCode(discovery: ProviderDiscovery, result: AuthorizationResult): Promise<TokenSet> {
  const code = result.callback.get('code');
  if (!code) throw new Error(`no code in the callback: ${result.callback}`);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: result.codeVerifier,
  });
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
  if (result.client_id === WEB_CLIENT.client_id) headers.set('authorization', webClientBasicAuth());
  else body.set('client_id', result.client_id);
  const response = await fetch(discovery.token_endpoint, { method: 'POST', headers, body });
  const json = (await response.json()) as TokenSet & { error?: string };
  if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Signs in and redeems the code: the tokens, and the sign-in for its provider cookies. */
export async function signInForTokens(
  discovery: ProviderDiscovery,
  request: AuthorizationRequest,
  signIn: SignInOptions,
): Promise<{ tokens: TokenSet; signIn: AuthorizationResult }> {
  const result = await authorize(discovery, request, signIn);
  return { tokens: await redeemCode(discovery, result), signIn: result };
}

/** Verifies a JWT the provider signed (ID token, JWT access token, logout token) against its JWKS; returns the payload. */
export async function verifyProviderJwt(
  discovery: ProviderDiscovery,
  jwt: string,
  options: { audience: string; typ?: string },
): Promise<JWTPayload> {
  const jwks = (await (await fetch(discovery.jwks_uri)).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), {
    issuer: discovery.issuer,
    audience: options.audience,
    algorithms: ['RS256'],
    ...(options.typ ? { typ: options.typ } : {}),
  });
  return payload;
}

/** `Authorization: Basic …` for the web client, its id and secret form-encoded first (RFC 6749 §2.3.1). */
export function webClientBasicAuth(): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${btoa(`${encode(WEB_CLIENT.client_id)}:${encode(WEB_CLIENT.client_secret)}`)}`;
}

/** POSTs a form to a provider endpoint with the web client's credentials; returns status and JSON body. */
export async function postAsWebClient(
  endpoint: string,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: webClientBasicAuth(),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function sha256Base64url(value: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value))));
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}
