/**
 * A local, Kenni-like OpenID provider for development and end-to-end tests.
 *
 * Built on `oidc-provider` (which Kenni itself appears to run on: its
 * endpoints live under `<issuer>/oidc/…`). It imitates Kenni's habits: an
 * issuer with a team path, RS256 keys, client ids like `@dev-team.is/web`, the
 * `national_id` claim, API scopes named like `@dev-team.is/api.read`, JWT
 * access tokens with `aud` `<client_id>-api` only when an API scope is
 * requested, refresh tokens with `offline_access`, RP-initiated logout that
 * requires `client_id`, a client-credentials client, token introspection and
 * revocation, back-channel logout, and delegations: after sign-in with
 * `prompt=delegation` a picker lets Þórður act for his company or his sister,
 * and the tokens then name the represented party as subject with `actor` and
 * `delegation_type`. ID tokens always carry `auth_time` and `sid`.
 *
 * Files under `provider/`: `settings.ts` (clients, scopes, URIs), `people.ts`
 * (users, delegations, claims), `interactions.ts` (login, delegation picker,
 * consent, the interaction policy), `pages.ts` (HTML), `hooks.ts`
 * (configuration hooks), `structured-tokens.ts` (JWT introspection and
 * revocation), `memory-adapter.ts` (storage).
 *
 * Runs fully offline with in-memory state; every start has fresh keys.
 *
 * Run directly: `npx node dev/provider.ts` (127.0.0.1:9400).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { closeOnSignal, readBody, RequestBodyTooLargeError, sendHtml } from './http.ts';
import { createInteractionPolicy, handleInteraction } from './provider/interactions.ts';
import { createMemoryAdapterFactory } from './provider/memory-adapter.ts';
import { errorPage, homePage, renderAutoSubmittingLogout, renderError, renderLoggedOut } from './provider/pages.ts';
import {
  accessTokenClaims,
  introspectionAllowedPolicy,
  isLoopbackUrl,
  keepRequestedOfflineAccess,
  revocationAllowedPolicy,
} from './provider/hooks.ts';
import { accountClaims, describeDelegations, DEV_USERS } from './provider/people.ts';
import { JwtTokenAliases, recordJwtAccessToken, resolveStructuredToken } from './provider/structured-tokens.ts';
import {
  DEV_TEAM_PATH,
  DEV_PROVIDER_PORT,
  DEV_API_SCOPES,
  DEV_API_AUDIENCE,
  DEV_API_RESOURCE,
  DEV_OIDC_SCOPES,
  DEV_REDIRECT_URIS,
  DEV_POST_LOGOUT_REDIRECT_URIS,
  DEV_CLIENTS,
  DEV_BACKCHANNEL_LOGOUT_URI,
  DEV_ADMIN_SCOPE,
} from './provider/settings.ts';

export { DEV_DELEGATIONS, DEV_USERS, delegationsOf, describeDelegations } from './provider/people.ts';
export type { DevDelegation, DevDelegationKey, DevParty, DevUser } from './provider/people.ts';
export { isValidKennitala } from './kennitala.ts';
export * from './provider/settings.ts';

/** Options for {@link startKenniProvider}. */
export interface KenniProviderOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on and host of the issuer; default `127.0.0.1`. */
  host?: string;
  /** Access token lifetime in seconds (also client credentials); default 300. */
  accessTokenTtl?: number;
  /** ID token lifetime in seconds; default 3600. */
  idTokenTtl?: number;
  /** More redirect URIs for the web and SPA clients (e.g. a test origin's callback). */
  extraRedirectUris?: string[];
  /** More post-logout redirect URIs for the web and SPA clients. */
  extraPostLogoutRedirectUris?: string[];
  /**
   * The web client's `backchannel_logout_uri`, where the provider POSTs a
   * `logout_token` when a provider session ends; default
   * {@link DEV_BACKCHANNEL_LOGOUT_URI} (the edge under `npm run dev`).
   * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRegistration
   */
  backchannelLogoutUri?: string;
}

/** A running provider. */
export interface KenniProvider {
  /** `http://<host>:<port>/dev-team.is`, exactly as in discovery (no trailing slash). */
  issuer: string;
  port: number;
  /** The web client's registered `backchannel_logout_uri`. */
  backchannelLogoutUri: string;
  /** How many HTTP requests the provider has received (benchmarks check steady state makes none). */
  requestCount(): number;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const DAY = 24 * 60 * 60;

/**
 * Starts the Kenni-like provider.
 * @see https://openid.net/specs/openid-connect-core-1_0.html
 */
export async function startKenniProvider(options: KenniProviderOptions = {}): Promise<KenniProvider> {
  const host = options.host ?? '127.0.0.1';
  const accessTokenTtl = options.accessTokenTtl ?? 300;
  const idTokenTtl = options.idTokenTtl ?? 3600;

  let handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestBodyTooLargeError && !res.headersSent) {
        sendHtml(res, 413, errorPage('invalid_request', error.message));
        return;
      }
      console.error('dev provider: unhandled error', error);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // The issuer must be known before the provider exists, hence listen first.
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}${DEV_TEAM_PATH}`;

  const backchannelLogoutUri = options.backchannelLogoutUri ?? DEV_BACKCHANNEL_LOGOUT_URI;
  const { provider, publicKey, aliases } = await createProvider(issuer, {
    accessTokenTtl,
    idTokenTtl,
    redirectUris: [...DEV_REDIRECT_URIS, ...(options.extraRedirectUris ?? [])],
    postLogoutRedirectUris: [...DEV_POST_LOGOUT_REDIRECT_URIS, ...(options.extraPostLogoutRedirectUris ?? [])],
    backchannelLogoutUri,
  });
  handle = createRequestHandler(provider, (req) => resolveStructuredToken(req, issuer, publicKey, aliases));

  return {
    issuer,
    port,
    backchannelLogoutUri,
    requestCount: () => requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface ProviderSettings {
  accessTokenTtl: number;
  idTokenTtl: number;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string;
}

const OIDC_PREFIX = '/oidc';
const ROUTES = {
  authorization: `${OIDC_PREFIX}/auth`,
  token: `${OIDC_PREFIX}/token`,
  jwks: `${OIDC_PREFIX}/jwks`,
  end_session: `${OIDC_PREFIX}/session/end`,
  userinfo: `${OIDC_PREFIX}/me`,
  revocation: `${OIDC_PREFIX}/token/revocation`,
  introspection: `${OIDC_PREFIX}/token/introspection`,
  registration: `${OIDC_PREFIX}/reg`,
  pushed_authorization_request: `${OIDC_PREFIX}/request`,
  device_authorization: `${OIDC_PREFIX}/device/auth`,
  code_verification: `${OIDC_PREFIX}/device`,
  backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
  challenge: `${OIDC_PREFIX}/challenge`,
  credential: `${OIDC_PREFIX}/credential`,
};
const OFFLINE_ACCESS_HOOK = 'x_dev_keep_offline_access';
const INTERACTION_PATH = `${DEV_TEAM_PATH}${OIDC_PREFIX}/interaction/`;
const END_SESSION_PATH = `${DEV_TEAM_PATH}${ROUTES.end_session}`;
const STRUCTURED_TOKEN_PATHS = new Set(
  [ROUTES.introspection, ROUTES.revocation].map((route) => `${DEV_TEAM_PATH}${route}`),
);

async function createProvider(
  issuer: string,
  settings: ProviderSettings,
): Promise<{ provider: any; publicKey: CryptoKey; aliases: JwtTokenAliases }> {
  const aliases = new JwtTokenAliases();
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: `dev-rs256-${randomBytes(6).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };

  const browserClient = {
    redirect_uris: settings.redirectUris,
    post_logout_redirect_uris: settings.postLogoutRedirectUris,
    response_types: ['code'],
    application_type: 'web',
    scope: [...DEV_OIDC_SCOPES].join(' '),
    // Kenni's ID tokens always carry auth_time.
    require_auth_time: true,
  };
  const apiScopes = new Set<string>([...DEV_API_SCOPES, DEV_ADMIN_SCOPE]);
  const requestsApiScope = (scope: unknown) =>
    typeof scope === 'string' && scope.split(' ').some((value) => apiScopes.has(value));

  const provider: any = new Provider(issuer, {
    adapter: createMemoryAdapterFactory(aliases),
    clients: [
      {
        ...browserClient,
        client_id: DEV_CLIENTS.web.client_id,
        client_secret: DEV_CLIENTS.web.client_secret,
        client_name: 'kenni-edge (dev web)',
        token_endpoint_auth_method: DEV_CLIENTS.web.token_endpoint_auth_method,
        grant_types: [...DEV_CLIENTS.web.grant_types],
        // With a session required, ID tokens carry `sid` and logout tokens name it.
        backchannel_logout_uri: settings.backchannelLogoutUri,
        backchannel_logout_session_required: true,
      },
      {
        ...browserClient,
        client_id: DEV_CLIENTS.spa.client_id,
        client_name: 'kenni-edge (dev SPA)',
        token_endpoint_auth_method: DEV_CLIENTS.spa.token_endpoint_auth_method,
        grant_types: [...DEV_CLIENTS.spa.grant_types],
      },
      {
        client_id: DEV_CLIENTS.m2m.client_id,
        client_secret: DEV_CLIENTS.m2m.client_secret,
        client_name: 'kenni-edge (dev machine client)',
        token_endpoint_auth_method: DEV_CLIENTS.m2m.token_endpoint_auth_method,
        grant_types: [...DEV_CLIENTS.m2m.grant_types],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: {
      // Random per start: a restarted provider forgets every session anyway.
      keys: [randomBytes(32).toString('base64url')],
    },
    scopes: [...DEV_OIDC_SCOPES],
    claims: {
      // actor and delegation_type exist only on delegated sign-ins (see accountClaims).
      openid: ['sub', 'amr', 'actor', 'delegation_type'],
      profile: ['name', 'given_name', 'family_name'],
      national_id: ['national_id'],
    },
    // Kenni puts the scope's claims in the ID token; oidc-provider's default
    // would keep them for the userinfo endpoint when the access token is opaque.
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) => {
      const claims = accountClaims(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ ...claims }) };
    },
    // JWT access tokens (and introspection answers) name the subject and, when delegated, the actor.
    extraTokenClaims: async (_ctx: unknown, token: any) => accessTokenClaims(token),
    // Kept so JWT access tokens can be introspected and revoked like opaque ones.
    formats: { customizers: { jwt: recordJwtAccessToken } },
    routes: ROUTES,
    interactions: {
      policy: createInteractionPolicy(),
      url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}${interaction.uid}`,
    },
    // oidc-provider refuses to call loopback addresses (SSRF protection); the
    // dev edge's back-channel logout endpoint is one. Everything else keeps it.
    fetch: (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
      if (!isLoopbackUrl(url)) return fetch(url, options);
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return fetch(url, rest);
    },
    // Kenni uses the authorization code flow only.
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: revocationAllowedPolicy },
      // Confidential clients introspect any token; a public client only its own.
      introspection: { enabled: true, allowedPolicy: introspectionAllowedPolicy },
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: renderAutoSubmittingLogout,
        postLogoutSuccessSource: renderLoggedOut,
      },
      resourceIndicators: {
        enabled: true,
        // Clients never send `resource`: asking for an API scope selects the API,
        // the way Kenni issues a JWT access token only when one is requested.
        defaultResource: async (ctx: any, _client: unknown, oneOf?: string[]) => {
          if (oneOf) return oneOf.includes(DEV_API_RESOURCE) ? DEV_API_RESOURCE : oneOf[0];
          return requestsApiScope(ctx.oidc.params.scope) ? DEV_API_RESOURCE : undefined;
        },
        // Token and refresh requests carry no `resource` either; reuse the granted one.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string, client: { clientId: string }) => {
          if (resource !== DEV_API_RESOURCE) throw new errors.InvalidTarget();
          // The admin scope (session revocation) only for the machine client: no user can sign in with it.
          const adminScopes = client.clientId === DEV_CLIENTS.m2m.client_id ? [DEV_ADMIN_SCOPE] : [];
          return {
            audience: DEV_API_AUDIENCE,
            // The OpenID scopes are listed too so the JWT's `scope` carries every granted scope.
            scope: [...DEV_OIDC_SCOPES, ...DEV_API_SCOPES, ...adminScopes].join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: settings.accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraParams: {
      // Not a parameter anyone sends: extraParams validators are the one hook
      // that runs after oidc-provider's scope check, see keepRequestedOfflineAccess.
      [OFFLINE_ACCESS_HOOK]: keepRequestedOfflineAccess,
    },
    // A refresh token whenever `offline_access` was granted, for clients allowed to refresh.
    issueRefreshToken: async (_ctx: unknown, client: any, source: any) =>
      client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    rotateRefreshToken: true,
    clientBasedCORS: (ctx: any, origin: string, client: any) => {
      if (origin === 'null') return false;
      if (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') {
        return client.redirectUris.some((uri: string) => URL.parse(uri)?.origin === origin);
      }
      return false;
    },
    renderError,
    ttl: {
      AccessToken: () => settings.accessTokenTtl,
      ClientCredentials: () => settings.accessTokenTtl,
      AuthorizationCode: () => 60,
      IdToken: () => settings.idTokenTtl,
      RefreshToken: () => 30 * DAY,
      Interaction: () => 60 * 60,
      Session: () => 30 * DAY,
      Grant: () => 30 * DAY,
    },
  });

  return { provider, publicKey, aliases };
}

/** Routes our own interaction pages, enforces Kenni's `client_id` on logout, else oidc-provider. */
function createRequestHandler(
  provider: any,
  resolveJwtAccessToken: (req: IncomingMessage) => Promise<IncomingMessage>,
) {
  const callback = provider.callback();

  return async function handleRequest(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    let req = incoming;
    const url = new URL(req.url ?? '/', 'http://provider.invalid');

    if (url.pathname.startsWith(INTERACTION_PATH)) {
      await handleInteraction(provider, INTERACTION_PATH, req, res, url);
      return;
    }

    if (STRUCTURED_TOKEN_PATHS.has(url.pathname)) {
      req = await resolveJwtAccessToken(req);
    }

    if (url.pathname === END_SESSION_PATH) {
      const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
      if (!params.get('client_id')) {
        sendHtml(res, 400, errorPage('invalid_request', 'client_id is required / client_id vantar'));
        return;
      }
      if (req.method === 'POST') {
        // oidc-provider serves POST here only with SameSite=None cookies (https);
        // replay the form as a GET so RPs may use either method, as with Kenni.
        req.method = 'GET';
        req.url = `${url.pathname}?${params}`;
        delete req.headers['content-type'];
        delete req.headers['content-length'];
      }
    }

    if (url.pathname === '/' && req.method === 'GET') {
      sendHtml(res, 200, homePage(`http://${req.headers.host}${DEV_TEAM_PATH}`));
      return;
    }

    if (url.pathname !== DEV_TEAM_PATH && !url.pathname.startsWith(`${DEV_TEAM_PATH}/`)) {
      sendHtml(res, 404, errorPage('not_found', `The issuer lives under ${DEV_TEAM_PATH}`));
      return;
    }

    // Mount oidc-provider under the team path: it derives its mount path from
    // originalUrl minus url, like an Express/Koa mount would set them.
    const originalUrl = req.url ?? '/';
    Object.assign(req, { originalUrl });
    req.url = originalUrl.slice(DEV_TEAM_PATH.length) || '/';
    await callback(req, res);
  };
}

async function main() {
  const provider = await startKenniProvider({ port: DEV_PROVIDER_PORT });
  console.log(`Kenni-like dev provider: issuer ${provider.issuer}`);
  console.log(`  discovery: ${provider.issuer}/.well-known/openid-configuration`);
  console.log(`  users: ${DEV_USERS.map((user) => `${user.name} (${user.national_id})`).join(', ')}`);
  console.log(`  delegations (prompt=delegation): ${describeDelegations().join(', ')}`);
  closeOnSignal(provider);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
