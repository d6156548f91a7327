/**
 * A programmable ("hostile") OpenID provider for tests running inside workerd.
 *
 * Each {@link createScriptedProvider} call gets its own tenant on the shared
 * scripted provider server (started by the Vitest global setup), so test files
 * running in parallel never share routes or recorded requests. Only `fetch`,
 * `URL` and Web Crypto are used here.
 */
import { inject } from 'vitest';
import type { JWK } from 'jose';
import type { Reply, RecordedRequestWire } from './scripted-provider-server.ts';
import type { TestKey } from './token-factory.ts';

export type { Reply } from './scripted-provider-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the scripted provider server (see `test/support/scripted-provider-server.ts`). */
    scriptedProviderUrl: string;
  }
}

/** A request the scripted provider received. */
export interface RecordedRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** The path relative to the issuer (tenant prefix removed), e.g. `/oidc/token`, without the query string. */
  path: string;
  /** The absolute URL requested, query string included. */
  url: string;
  /** The full path exactly as the server read it from the request line (tenant prefix kept, no query string), for tests of path readings. */
  rawPath: string;
  /** Query parameters (the last value wins for a repeated name; see `search`). */
  query: Record<string, string>;
  /** The raw query string including `?`, or `''`. */
  search: string;
  /** Request headers with lower-case names. */
  headers: Record<string, string>;
  /** The request body as text (`''` when there was none, or when it was over 1 MiB: see `bodyOmitted`). */
  body: string;
  /** The body's length in bytes. */
  bodyLength: number;
  /** Lower-case hex SHA-256 of the body's bytes. */
  bodySha256: string;
  /** True when the body was over 1 MiB and is recorded by length and hash only. */
  bodyOmitted?: boolean;
  /** The body parsed as `application/x-www-form-urlencoded` when it was sent as such (token endpoint requests). */
  form?: Record<string, string>;
}

/**
 * Selects recorded requests: by method and/or path (relative to the issuer,
 * exact string or RegExp), or with a predicate.
 */
export type RequestFilter = { method?: string; path?: string | RegExp } | ((request: RecordedRequest) => boolean);

/** The endpoints a discovery document points at. */
export interface ProviderEndpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
  userinfo_endpoint: string;
}

/** The fields of an OAuth token response; anything else given is passed through. */
export interface TokenResponseFields {
  id_token?: string;
  /** Defaults to a random opaque string. */
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
  /** Defaults to `Bearer`. */
  token_type?: string;
  [extra: string]: unknown;
}

/** Reply options for the `serve…` helpers: everything but the body. */
export type ReplyOptions = Omit<Reply, 'json' | 'body'>;

/**
 * One tenant of the scripted provider: an issuer whose every answer the test
 * chooses, and which records every request it receives.
 */
export interface ScriptedProvider {
  /** The tenant name (the issuer's only path segment). */
  readonly tenant: string;
  /** The issuer, `<server>/<tenant>` (no trailing slash). */
  readonly issuer: string;
  /** The endpoints of the last document from {@link ScriptedProvider.serveDiscovery} (defaults under `<issuer>/oidc/…` before that). */
  readonly endpoints: ProviderEndpoints;
  /** The absolute URL of `path` (relative to the issuer, e.g. `/oidc/token`). */
  url(path: string): string;
  /**
   * Scripts `method path` (path relative to the issuer, or an absolute URL
   * under it). An array is a queue: each request takes the next reply and the
   * last one repeats. Replaces an earlier script for the same route.
   */
  route(method: string, path: string, reply: Reply | Reply[]): Promise<void>;
  /** The requests this tenant received so far, in order, optionally filtered. */
  requests(filter?: RequestFilter): Promise<RecordedRequest[]>;
  /** Forgets every route and recorded request of this tenant. */
  reset(): Promise<void>;
  /**
   * Publishes `<issuer>/.well-known/openid-configuration` (Kenni-like: endpoints
   * under `<issuer>/oidc/…`). `overrides` are merged in; a key set to
   * `undefined` is removed. Returns the document served.
   *
   * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
   */
  serveDiscovery(overrides?: Record<string, unknown>, reply?: ReplyOptions): Promise<Record<string, unknown>>;
  /**
   * Publishes the public keys at `jwks_uri` as `{ keys: [...] }`, with
   * optional reply headers (e.g. `cache-control`). Returns the JWKS served.
   *
   * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
   */
  serveJwks(keys: ReadonlyArray<TestKey | JWK>, reply?: ReplyOptions): Promise<{ keys: JWK[] }>;
  /** Scripts `POST token_endpoint` (see {@link tokenResponse}). */
  serveToken(reply: Reply | Reply[]): Promise<void>;
}

/**
 * A successful token endpoint reply: JSON with `cache-control: no-store`.
 * `token_type` defaults to `Bearer`, `access_token` to a random opaque value.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function tokenResponse(fields: TokenResponseFields = {}): Reply {
  const json = Object.fromEntries(
    Object.entries({ access_token: randomHex(16), token_type: 'Bearer', ...fields }).filter(
      ([, value]) => value !== undefined,
    ),
  );
  return { status: 200, headers: { 'cache-control': 'no-store', pragma: 'no-cache' }, json };
}

/**
 * An OAuth error reply from the token endpoint, e.g. `tokenError('invalid_grant')`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export function tokenError(error: string, description?: string, status = 400): Reply {
  return {
    status,
    headers: { 'cache-control': 'no-store' },
    json: description === undefined ? { error } : { error, error_description: description },
  };
}

/**
 * Creates a scripted provider on its own tenant (random unless `tenant` is
 * given; Kenni-like, e.g. `team-1a2b3c4d5e6f.is`). Needs the global setup to
 * have provided `scriptedProviderUrl`.
 */
export async function createScriptedProvider(options: { tenant?: string } = {}): Promise<ScriptedProvider> {
  const base = scriptedProviderUrl();
  const tenant = options.tenant ?? `team-${randomHex(6)}.is`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._~-]*$/.test(tenant) || tenant === '__control') {
    throw new TypeError(`scripted provider: invalid tenant name ${JSON.stringify(tenant)}`);
  }
  const issuer = `${base}/${tenant}`;
  const controlUrl = `${base}/__control/${tenant}`;
  const defaultEndpoints: ProviderEndpoints = {
    authorization_endpoint: `${issuer}/oidc/auth`,
    token_endpoint: `${issuer}/oidc/token`,
    jwks_uri: `${issuer}/oidc/jwks`,
    end_session_endpoint: `${issuer}/oidc/session/end`,
    userinfo_endpoint: `${issuer}/oidc/me`,
  };
  let discovery: Record<string, unknown> | undefined;

  const url = (path: string) => `${issuer}${path.startsWith('/') ? path : `/${path}`}`;

  /** The server-side full path for a path relative to the issuer or an absolute URL under it. */
  const serverPath = (path: string): string => {
    if (/^https?:\/\//.test(path)) {
      if (path !== issuer && !path.startsWith(`${issuer}/`)) {
        throw new TypeError(`scripted provider: ${path} is not under the issuer ${issuer}`);
      }
      return new URL(path).pathname;
    }
    return new URL(url(path)).pathname;
  };

  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${controlUrl}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`scripted provider control ${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as unknown;
  };

  const route = async (method: string, path: string, reply: Reply | Reply[]) => {
    await control('PUT', '/routes', { [`${method.toUpperCase()} ${serverPath(path)}`]: reply });
  };

  const endpoint = (name: keyof ProviderEndpoints): string => {
    const value = discovery?.[name];
    return typeof value === 'string' ? value : defaultEndpoints[name];
  };

  const tenantPrefix = `/${tenant}`;
  const toRecorded = (wire: RecordedRequestWire): RecordedRequest => {
    const path = wire.path.startsWith(tenantPrefix) ? wire.path.slice(tenantPrefix.length) || '/' : wire.path;
    const contentType = wire.headers['content-type'] ?? '';
    return {
      method: wire.method,
      path,
      url: `${base}${wire.path}${wire.search}`,
      rawPath: wire.rawPath,
      query: wire.query,
      search: wire.search,
      headers: wire.headers,
      body: wire.body,
      bodyLength: wire.bodyLength,
      bodySha256: wire.bodySha256,
      ...(wire.bodyOmitted ? { bodyOmitted: true } : {}),
      ...(contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')
        ? { form: Object.fromEntries(new URLSearchParams(wire.body)) }
        : {}),
    };
  };

  const matches = (request: RecordedRequest, filter: RequestFilter | undefined): boolean => {
    if (!filter) return true;
    if (typeof filter === 'function') return filter(request);
    if (filter.method && request.method !== filter.method.toUpperCase()) return false;
    if (filter.path instanceof RegExp) return filter.path.test(request.path);
    if (typeof filter.path === 'string') return request.path === filter.path;
    return true;
  };

  return {
    tenant,
    issuer,
    get endpoints(): ProviderEndpoints {
      return {
        authorization_endpoint: endpoint('authorization_endpoint'),
        token_endpoint: endpoint('token_endpoint'),
        jwks_uri: endpoint('jwks_uri'),
        end_session_endpoint: endpoint('end_session_endpoint'),
        userinfo_endpoint: endpoint('userinfo_endpoint'),
      };
    },
    url,
    route,
    async requests(filter) {
      const wire = (await control('GET', '/requests')) as RecordedRequestWire[];
      return wire.map(toRecorded).filter((request) => matches(request, filter));
    },
    async reset() {
      await control('DELETE', '');
      discovery = undefined;
    },
    async serveDiscovery(overrides = {}, reply = {}) {
      const document = Object.fromEntries(
        Object.entries({
          issuer,
          ...defaultEndpoints,
          response_types_supported: ['code'],
          response_modes_supported: ['query'],
          grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256', 'ES256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
          scopes_supported: ['openid', 'profile', 'national_id', 'offline_access'],
          claims_supported: ['sub', 'name', 'national_id', 'auth_time', 'iss', 'aud', 'exp', 'iat', 'nonce'],
          authorization_response_iss_parameter_supported: true,
          ...overrides,
        }).filter(([, value]) => value !== undefined),
      );
      await route('GET', '/.well-known/openid-configuration', { ...reply, json: document });
      discovery = document;
      return document;
    },
    async serveJwks(keys, reply = {}) {
      const jwks = {
        keys: keys.map((key) =>
          'publicJwk' in key && typeof key.publicJwk === 'object' ? (key as TestKey).publicJwk : (key as JWK),
        ),
      };
      await route('GET', endpoint('jwks_uri'), {
        ...reply,
        headers: { 'content-type': 'application/jwk-set+json', ...reply.headers },
        json: jwks,
      });
      return jwks;
    },
    async serveToken(reply) {
      await route('POST', endpoint('token_endpoint'), reply);
    },
  };
}

function scriptedProviderUrl(): string {
  let base: string | undefined;
  try {
    base = inject('scriptedProviderUrl');
  } catch {
    base = undefined;
  }
  if (!base) {
    throw new Error(
      'scriptedProviderUrl is not provided: test/support/global-setup.ts must start ' +
        "startScriptedProviderServer() and call project.provide('scriptedProviderUrl', url).",
    );
  }
  return base.replace(/\/+$/, '');
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
