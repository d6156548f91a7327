/**
 * A local, Kenni-like OpenID provider for development and end-to-end tests.
 *
 * Built on `oidc-provider` (which Kenni itself appears to run on: its
 * endpoints live under `<issuer>/oidc/…`). It imitates Kenni's habits: an
 * issuer with a team path, RS256 keys, client ids like `@dev-team.is/web`, the
 * `national_id` claim, API scopes named like `@dev-team.is/api.read`, JWT
 * access tokens with `aud` `<client_id>-api` only when an API scope is
 * requested, refresh tokens with `offline_access`, RP-initiated logout that
 * requires `client_id`, and a client-credentials client.
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

import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { closeOnSignal, escapeHtml, sendHtml } from './http.ts';

/** The team path of the dev issuer, as in Kenni's `https://idp.kenni.is/<team-domain>`. */
export const DEV_TEAM_PATH = '/dev-team.is';

/** Where `npm run dev` runs the provider. */
export const DEV_PROVIDER_PORT = 9400;

/** The API scopes the provider knows; requesting one yields a JWT access token. */
export const DEV_API_SCOPES = ['@dev-team.is/api.read', '@dev-team.is/api.write'] as const;

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

/** A test user of the dev provider. */
export interface DevUser {
  /** Stable subject identifier. */
  sub: string;
  /** Icelandic kennitala, ten digits, what the login form takes. */
  national_id: string;
  name: string;
  given_name: string;
  family_name: string;
}

/** The test users; sign in with any of their `national_id`s (no password). */
export const DEV_USERS: readonly DevUser[] = [
  {
    sub: 'dev-user-thordur',
    national_id: '0101302989',
    name: 'Þórður Ævarsson',
    given_name: 'Þórður',
    family_name: 'Ævarsson',
  },
  {
    sub: 'dev-user-gudrun',
    national_id: '1203894569',
    name: 'Guðrún Ólafsdóttir',
    given_name: 'Guðrún',
    family_name: 'Ólafsdóttir',
  },
];

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
}

/** A running provider. */
export interface KenniProvider {
  /** `http://<host>:<port>/dev-team.is`, exactly as in discovery (no trailing slash). */
  issuer: string;
  port: number;
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

  const provider = await createProvider(issuer, {
    accessTokenTtl,
    idTokenTtl,
    redirectUris: [...DEV_REDIRECT_URIS, ...(options.extraRedirectUris ?? [])],
    postLogoutRedirectUris: [...DEV_POST_LOGOUT_REDIRECT_URIS, ...(options.extraPostLogoutRedirectUris ?? [])],
  });
  handle = createRequestHandler(provider);

  return {
    issuer,
    port,
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

async function createProvider(issuer: string, settings: ProviderSettings): Promise<any> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
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
  };
  const apiScopes = new Set<string>(DEV_API_SCOPES);
  const requestsApiScope = (scope: unknown) =>
    typeof scope === 'string' && scope.split(' ').some((value) => apiScopes.has(value));

  const provider: any = new Provider(issuer, {
    adapter: createMemoryAdapterFactory(),
    clients: [
      {
        ...browserClient,
        client_id: DEV_CLIENTS.web.client_id,
        client_secret: DEV_CLIENTS.web.client_secret,
        client_name: 'kenni-edge (dev web)',
        token_endpoint_auth_method: DEV_CLIENTS.web.token_endpoint_auth_method,
        grant_types: [...DEV_CLIENTS.web.grant_types],
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
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name'],
      national_id: ['national_id'],
    },
    // Kenni puts the scope's claims in the ID token; oidc-provider's default
    // would keep them for the userinfo endpoint when the access token is opaque.
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = DEV_USERS.find((candidate) => candidate.sub === sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: async () => ({ ...user }),
      };
    },
    routes: ROUTES,
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `${INTERACTION_PATH}${interaction.uid}`,
    },
    // Kenni uses the authorization code flow only.
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: revocationAllowedPolicy },
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
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (resource !== DEV_API_RESOURCE) throw new errors.InvalidTarget();
          return {
            audience: DEV_API_AUDIENCE,
            // The OpenID scopes are listed too so the JWT's `scope` carries every granted scope.
            scope: [...DEV_OIDC_SCOPES, ...DEV_API_SCOPES].join(' '),
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

  return provider;
}

/** Routes our own interaction pages, enforces Kenni's `client_id` on logout, else oidc-provider. */
function createRequestHandler(provider: any) {
  const callback = provider.callback();

  return async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://provider.invalid');

    if (url.pathname.startsWith(INTERACTION_PATH)) {
      await handleInteraction(provider, req, res, url);
      return;
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

async function handleInteraction(provider: any, req: IncomingMessage, res: ServerResponse, url: URL) {
  const [uid = '', action = ''] = url.pathname.slice(INTERACTION_PATH.length).split('/');
  res.setHeader('cache-control', 'no-store');

  let details: any;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (error) {
    sendHtml(res, 400, errorPage('invalid_request', `This sign-in is no longer valid; start again. (${String(error)})`));
    return;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, errorPage('invalid_request', 'This sign-in page belongs to another sign-in; start again.'));
    return;
  }
  const client = await provider.Client.find(details.params.client_id);
  const clientName: string = client?.clientName ?? details.params.client_id;

  if (req.method === 'GET' && action === '') {
    if (details.prompt.name === 'login') {
      sendHtml(res, 200, loginPage(uid, clientName));
    } else if (details.prompt.name === 'consent') {
      sendHtml(res, 200, consentPage(uid, clientName, details.prompt.details));
    } else {
      sendHtml(res, 501, errorPage('not_implemented', `Unknown prompt ${details.prompt.name}`));
    }
    return;
  }

  if (req.method === 'POST' && action === 'login') {
    const form = new URLSearchParams(await readBody(req));
    const login = (form.get('login') ?? '').trim();
    const digits = login.replace(/\D/g, '');
    const user = DEV_USERS.find((candidate) => candidate.national_id === digits || candidate.sub === login);
    if (!user) {
      sendHtml(res, 400, loginPage(uid, clientName, `Enginn notandi með kennitöluna „${login}“ / No such user`));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  if (req.method === 'POST' && action === 'confirm') {
    await readBody(req);
    if (details.prompt.name !== 'consent') {
      sendHtml(res, 400, errorPage('invalid_request', 'Nothing to consent to.'));
      return;
    }
    const { prompt, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, (scopes as string[]).join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true },
    );
    return;
  }

  if (req.method === 'GET' && action === 'abort') {
    await provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  sendHtml(res, 404, errorPage('not_found', 'No such page'));
}

/**
 * oidc-provider drops `offline_access` from an authorization request unless
 * it carries `prompt=consent` (OIDC Core §11 allows that); Kenni issues a
 * refresh token whenever `offline_access` is requested, so put it back for
 * clients allowed the refresh_token grant.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
 */
async function keepRequestedOfflineAccess(ctx: any, _value: unknown, client: any) {
  const requestedScope = String(ctx.oidc.body?.scope ?? ctx.query?.scope ?? '');
  if (!requestedScope.split(' ').includes('offline_access')) return;
  if (!client?.grantTypeAllowed('refresh_token')) return;
  if (!String(ctx.oidc.params.response_type ?? '').split(' ').includes('code')) return;
  const scopes = new Set(String(ctx.oidc.params.scope ?? '').split(' ').filter(Boolean));
  scopes.add('offline_access');
  ctx.oidc.params.scope = [...scopes].join(' ');
}

function revocationAllowedPolicy(_ctx: unknown, client: any, token: any) {
  return token.clientId === client.clientId;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const limit = 64 * 1024;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}



const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.4rem}form{margin:.5rem 0}button{font:inherit;padding:.6rem 1rem;cursor:pointer;width:100%;text-align:left}
.muted{color:#666;font-size:.9rem}.error{color:#b00020}code{background:#f2f2f5;padding:0 .2rem}`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="is">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>`;
}

function loginPage(uid: string, clientName: string, error?: string): string {
  const action = `${INTERACTION_PATH}${uid}/login`;
  const users = DEV_USERS.map(
    (user) => `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="login" value="${escapeHtml(user.national_id)}">
<button type="submit">${escapeHtml(user.name)} <span class="muted">(${escapeHtml(user.national_id)})</span></button>
</form>`,
  ).join('\n');
  return layout(
    'Innskráning / Sign in',
    `<h1>Innskráning / Sign in</h1>
<p>${escapeHtml(clientName)} vill að þú skráir þig inn. / wants you to sign in.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<p class="muted">Veldu prófunarnotanda (engin lykilorð: þetta er þróunarþjónn) / Pick a test user (no password: development provider)</p>
${users}`,
  );
}

function consentPage(uid: string, clientName: string, missing: any): string {
  const scopes = [
    ...(missing.missingOIDCScope ?? []),
    ...Object.values(missing.missingResourceScopes ?? {}).flat(),
  ];
  const uniqueScopes = [...new Set(scopes as string[])];
  return layout(
    'Samþykki / Consent',
    `<h1>Samþykki / Consent</h1>
<p>${escapeHtml(clientName)} biður um / asks for:</p>
<ul>${uniqueScopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('')}</ul>
<form method="post" action="${escapeHtml(`${INTERACTION_PATH}${uid}/confirm`)}">
<button type="submit" autofocus>Samþykkja / Allow</button>
</form>
<p><a href="${escapeHtml(`${INTERACTION_PATH}${uid}/abort`)}">Hafna / Deny</a></p>`,
  );
}

/** For a person who opens the provider's root: what this is and who can sign in. */
function homePage(issuer: string): string {
  const users = DEV_USERS.map(
    (user) => `<li>${escapeHtml(user.name)}: <code>${escapeHtml(user.national_id)}</code></li>`,
  ).join('');
  return layout(
    'Kenni-like dev provider',
    `<h1>Kenni-like dev provider</h1>
<p>Issuer <code>${escapeHtml(issuer)}</code>:
<a href="${escapeHtml(`${issuer}/.well-known/openid-configuration`)}">discovery</a>.</p>
<p>Test users / prófunarnotendur:</p><ul>${users}</ul>`,
  );
}

function errorPage(error: string, description: string): string {
  return layout(
    'Villa / Error',
    `<h1>Villa / Error</h1>
<p><strong>error</strong>: <code>${escapeHtml(error)}</code></p>
<p><strong>error_description</strong>: ${escapeHtml(description)}</p>`,
  );
}

async function renderError(ctx: any, out: { error?: string; error_description?: string }) {
  ctx.type = 'html';
  ctx.body = errorPage(out.error ?? 'server_error', out.error_description ?? '');
}

/**
 * Kenni signs out without asking; oidc-provider asks by default. The form is
 * kept (it carries the XSRF token) but submits itself; without JavaScript,
 * one click.
 */
async function renderAutoSubmittingLogout(ctx: any, form: string) {
  const autoForm = form.replace(
    '</form>',
    '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Skrá út / Sign out</button></noscript></form>',
  );
  ctx.type = 'html';
  ctx.body = layout(
    'Útskráning / Signing out',
    `<h1>Útskráning… / Signing out…</h1>
${autoForm}
<script>document.forms[0].submit()</script>`,
  );
}

async function renderLoggedOut(ctx: any) {
  ctx.type = 'html';
  ctx.body = layout('Útskráð / Signed out', '<h1>Þú ert útskráð(ur) / You are signed out</h1>');
}

/**
 * A small in-memory adapter (no LRU eviction, unlike oidc-provider's quick-start
 * one, whose use also prints a warning on every start). Entries expire on
 * their TTL; grants are indexed so revoking one drops its tokens.
 */
function createMemoryAdapterFactory() {
  interface Entry {
    payload: Record<string, any>;
    expiresAt: number;
  }
  const store = new Map<string, Entry>();
  const sessionIdByUid = new Map<string, string>();
  const idByUserCode = new Map<string, string>();
  const keysByGrantId = new Map<string, Set<string>>();
  let writesSinceSweep = 0;

  // Expired entries are dropped when read; a periodic sweep bounds the rest.
  const sweepExpired = () => {
    const now = Date.now();
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
    for (const [grantId, keys] of keysByGrantId) {
      for (const key of keys) if (!store.has(key)) keys.delete(key);
      if (keys.size === 0) keysByGrantId.delete(grantId);
    }
    for (const [uid, id] of sessionIdByUid) if (!store.has(`Session:${id}`)) sessionIdByUid.delete(uid);
  };

  const read = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  return class MemoryAdapter {
    model: string;
    constructor(model: string) {
      this.model = model;
    }

    key(id: string) {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Record<string, any>, expiresIn?: number) {
      if (++writesSinceSweep >= 1000) {
        writesSinceSweep = 0;
        sweepExpired();
      }
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(key, { payload, expiresAt });
      if (this.model === 'Session' && payload.uid) sessionIdByUid.set(payload.uid, id);
      if (payload.userCode) idByUserCode.set(payload.userCode, id);
      if (payload.grantId) {
        const keys = keysByGrantId.get(payload.grantId) ?? new Set<string>();
        keys.add(key);
        keysByGrantId.set(payload.grantId, keys);
      }
    }

    async find(id: string) {
      return read(this.key(id));
    }

    async findByUid(uid: string) {
      const id = sessionIdByUid.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string) {
      const id = idByUserCode.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string) {
      const payload = read(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string) {
      const key = this.key(id);
      const payload = read(key);
      store.delete(key);
      if (payload?.uid && sessionIdByUid.get(payload.uid) === id) sessionIdByUid.delete(payload.uid);
      if (payload?.userCode) idByUserCode.delete(payload.userCode);
      if (payload?.grantId) keysByGrantId.get(payload.grantId)?.delete(key);
    }

    async revokeByGrantId(grantId: string) {
      for (const key of keysByGrantId.get(grantId) ?? []) store.delete(key);
      keysByGrantId.delete(grantId);
    }
  };
}

async function main() {
  const provider = await startKenniProvider({ port: DEV_PROVIDER_PORT });
  console.log(`Kenni-like dev provider: issuer ${provider.issuer}`);
  console.log(`  discovery: ${provider.issuer}/.well-known/openid-configuration`);
  console.log(`  users: ${DEV_USERS.map((user) => `${user.name} (${user.national_id})`).join(', ')}`);
  closeOnSignal(provider);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
