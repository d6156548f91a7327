/**
 * The shapes of configuration: what wrangler passes in (`Env`) and what
 * `parseConfig` makes of it (`KenniEdgeConfig`). Parsing lives in `config.ts`.
 */
import type { RouteEntry } from './access/rules.ts';

/**
 * The Worker's bindings and variables, as wrangler passes them.
 * @example
 * export default { fetch: (request: Request, env: Env, ctx: ExecutionContext) => app.fetch(request, env, ctx) };
 */
export interface Env {
  SESSIONS: KVNamespace;
  SESSION_LOCKS?: DurableObjectNamespace;
  /** Optional Workers Analytics Engine dataset: one data point per auth decision (see README, "Metrics"). */
  METRICS?: AnalyticsEngineDataset;
  KENNI_ISSUER?: string;
  KENNI_CLIENT_ID?: string;
  KENNI_CLIENT_SECRET?: string;
  KENNI_SCOPE?: string;
  KENNI_API_SCOPE?: string;
  KENNI_API_AUDIENCE?: string;
  KENNI_REDIRECT_URI?: string;
  KENNI_POST_LOGOUT_REDIRECT_URI?: string;
  KENNI_UI_LOCALES?: string;
  KENNI_M2M_CLIENT_ID?: string;
  KENNI_M2M_CLIENT_SECRET?: string;
  SESSION_SECRET?: string;
  SESSION_SECRET_PREVIOUS?: string;
  ORIGIN_URL?: string;
  PUBLIC_PATHS?: string;
  API_PATHS?: string;
  ROUTES?: unknown; // a JSON string, or the array a TOML array of inline tables becomes
  ORIGIN_TIMEOUT?: string;
  SESSION_TTL?: string;
  SESSION_IDLE_TTL?: string;
  EDGE_SIGNING_KEY?: string;
  REFRESH_BEFORE_EXPIRY?: string;
  CLOCK_TOLERANCE?: string;
  PROVIDER_TIMEOUT?: string;
  KENNI_INTROSPECTION?: string;
  KENNI_ADMIN_SCOPE?: string;
  [key: string]: unknown;
}

/**
 * The parsed, validated configuration. Frozen; never mutated after parsing.
 * @example
 * const { issuer, clientId, apiScopes } = loadConfig(env);
 */
export interface KenniEdgeConfig {
  /** `KENNI_ISSUER` exactly as configured (compared byte for byte with discovery and `iss`). */
  readonly issuer: string;
  /** True when the issuer is plain http on a loopback host (local development). */
  readonly issuerIsLoopbackHttp: boolean;
  readonly clientId: string;
  /** Absent for a public client (PKCE only, auth method `none`). */
  readonly clientSecret: string | undefined;
  readonly scope: string;
  /** Custom API scopes: requested at login and required on bearer tokens. */
  readonly apiScopes: readonly string[];
  readonly apiAudience: string;
  readonly redirectUri: string | undefined;
  readonly postLogoutRedirectUri: string | undefined;
  readonly uiLocales: string | undefined;
  readonly m2mClientId: string | undefined;
  readonly m2mClientSecret: string | undefined;
  readonly sessionSecret: string;
  /** `SESSION_SECRET_PREVIOUS`: old secrets that still open (never seal) sessions and login transactions. */
  readonly previousSessionSecrets: readonly string[];
  readonly originUrl: URL | undefined;
  readonly publicPaths: readonly string[];
  readonly apiPaths: readonly string[];
  /** `ROUTES`: the access rules and origins per path prefix (strictly validated). */
  readonly routes: readonly RouteEntry[];
  /** Milliseconds to wait for the origin before answering 504. */
  readonly originTimeoutMs: number;
  /** Absolute session lifetime, seconds. */
  readonly sessionTtl: number;
  /** Idle session lifetime, seconds. */
  readonly sessionIdleTtl: number;
  /** The edge's ES256 private JWK (first signs; all are published), if configured. */
  readonly edgeSigningKeys: readonly JsonWebKey[];
  /** Refresh the session's access token when it expires within this many seconds. */
  readonly refreshBeforeExpiry: number;
  /** Leeway for `exp`/`nbf`/`iat`, seconds (at most 60). */
  readonly clockTolerance: number;
  /** Milliseconds to wait for the provider (discovery, JWKS, token endpoint). */
  readonly providerTimeoutMs: number;
  /** `auto`: opaque bearer tokens are introspected where the provider advertises it (RFC 7662); `off`: refused. */
  readonly introspection: 'auto' | 'off';
  /** `KENNI_ADMIN_SCOPE`: the scope a bearer token needs for `POST /auth/admin/revoke`; unset, the route does not exist. */
  readonly adminScope: string | undefined;
}
