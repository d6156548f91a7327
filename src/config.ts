/**
 * Configuration: every variable of the contract, parsed and validated once per
 * isolate into a typed, frozen object. Problems are reported by variable name
 * with the fix, all at once.
 */
import { parseRoutes } from './access/parse-routes.ts';
import type { Env, KenniEdgeConfig } from './config-types.ts';
import {
  addProblem,
  createVariableReader,
  hasEmptyQueryFragmentOrUserinfo,
  optionalUrl,
  parseEdgeSigningKeys,
  parsePreviousSessionSecrets,
  parseUrl,
} from './config-values.ts';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { logEvent } from './log.ts';

export type { Env, KenniEdgeConfig } from './config-types.ts';

const DEFAULT_SCOPE = 'openid profile national_id offline_access';
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Parses and validates the Worker's environment. Throws a {@link ConfigError}
 * that names every invalid variable (and the `SESSIONS` binding, unless
 * `requireBindings` is false, as for command-line tools).
 * @example
 * const config = parseConfig(process.env as Env, { requireBindings: false }); // a command-line tool
 */
export function parseConfig(env: Env, options: { requireBindings?: boolean } = {}): KenniEdgeConfig {
  const problems: ConfigProblem[] = [];
  if (options.requireBindings !== false) {
    const kv = env.SESSIONS as Partial<KVNamespace> | undefined;
    if (!kv || typeof kv.get !== 'function' || typeof kv.put !== 'function') {
      addProblem(
        problems,
        'SESSIONS',
        'the KV namespace binding is missing',
        'run `npx wrangler kv namespace create SESSIONS` and add it to wrangler.toml as [[kv_namespaces]] binding = "SESSIONS"',
      );
    }
  }
  const { text, seconds, pathList } = createVariableReader(env, problems);

  const issuer = text('KENNI_ISSUER');
  let issuerIsLoopbackHttp = false;
  if (issuer === undefined) {
    addProblem(
      problems,
      'KENNI_ISSUER',
      'is required',
      'set it to your Kenni issuer, e.g. "https://idp.kenni.is/your-team.is"',
    );
  } else {
    const url = parseUrl(issuer);
    if (!url) {
      addProblem(
        problems,
        'KENNI_ISSUER',
        `"${issuer}" is not a URL`,
        'set it to your Kenni issuer, e.g. "https://idp.kenni.is/your-team.is"',
      );
    } else if (url.search || url.hash || url.username || url.password || hasEmptyQueryFragmentOrUserinfo(issuer)) {
      addProblem(
        problems,
        'KENNI_ISSUER',
        'must not have a query, fragment or credentials',
        'use the issuer exactly as the provider publishes it, e.g. "https://idp.kenni.is/your-team.is"',
      );
    } else if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) {
      issuerIsLoopbackHttp = true;
    } else if (url.protocol !== 'https:') {
      addProblem(
        problems,
        'KENNI_ISSUER',
        `must use https (got "${url.protocol}"); plain http is allowed only for localhost, 127.0.0.1 and [::1]`,
        'use the https issuer URL, e.g. "https://idp.kenni.is/your-team.is"',
      );
    }
  }

  const clientId = text('KENNI_CLIENT_ID');
  if (clientId === undefined) {
    addProblem(
      problems,
      'KENNI_CLIENT_ID',
      'is required',
      'set it to the client id Kenni gave your application, e.g. "@your-team.is/web"',
    );
  }
  const clientSecret = text('KENNI_CLIENT_SECRET');

  const sessionSecret = text('SESSION_SECRET');
  if (sessionSecret === undefined) {
    addProblem(
      problems,
      'SESSION_SECRET',
      'is required',
      'generate 32+ random characters and run `npx wrangler secret put SESSION_SECRET` (locally: put it in .dev.vars)',
    );
  } else if (sessionSecret.length < 32) {
    addProblem(
      problems,
      'SESSION_SECRET',
      `is too short (${sessionSecret.length} characters; at least 32 are needed)`,
      'generate a longer random value, e.g. `openssl rand -base64 48`, and store it with `npx wrangler secret put SESSION_SECRET`',
    );
  }

  const scope = text('KENNI_SCOPE') ?? DEFAULT_SCOPE;
  if (!scope.split(/\s+/).includes('openid')) {
    addProblem(problems, 'KENNI_SCOPE', 'must include "openid"', `use e.g. "${DEFAULT_SCOPE}"`);
  }
  const apiScopes = (text('KENNI_API_SCOPE') ?? '').split(/\s+/).filter(Boolean);
  const apiAudience = text('KENNI_API_AUDIENCE') ?? `${clientId ?? ''}-api`;

  const redirectUri = optionalUrl(
    'KENNI_REDIRECT_URI',
    text('KENNI_REDIRECT_URI'),
    problems,
    'the full callback URL, e.g. "https://app.example.is/auth/callback"',
  );
  const postLogoutRedirectUri = optionalUrl(
    'KENNI_POST_LOGOUT_REDIRECT_URI',
    text('KENNI_POST_LOGOUT_REDIRECT_URI'),
    problems,
    'an absolute URL registered with the provider, e.g. "https://app.example.is/"',
  );
  const originRaw = optionalUrl(
    'ORIGIN_URL',
    text('ORIGIN_URL'),
    problems,
    'the base URL of your app or API, e.g. "https://origin.example.is"',
  );
  const originUrl = originRaw ? new URL(originRaw) : undefined;
  if (originUrl && (originUrl.search || originUrl.hash || /[?#]/.test(originRaw!))) {
    addProblem(
      problems,
      'ORIGIN_URL',
      'must not have a query or fragment',
      'use a base URL such as "https://origin.example.is"',
    );
  }

  const m2mClientId = text('KENNI_M2M_CLIENT_ID');
  const m2mClientSecret = text('KENNI_M2M_CLIENT_SECRET');
  if ((m2mClientId === undefined) !== (m2mClientSecret === undefined)) {
    addProblem(
      problems,
      m2mClientId === undefined ? 'KENNI_M2M_CLIENT_ID' : 'KENNI_M2M_CLIENT_SECRET',
      'is missing while its partner is set',
      'set both KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET, or neither',
    );
  }

  const introspection = text('KENNI_INTROSPECTION') ?? 'auto';
  if (introspection !== 'auto' && introspection !== 'off') {
    addProblem(
      problems,
      'KENNI_INTROSPECTION',
      `"${introspection}" is neither "auto" nor "off"`,
      'set it to "auto" (introspect opaque access tokens) or "off" (accept JWT access tokens only)',
    );
  }

  const adminScope = text('KENNI_ADMIN_SCOPE');
  // One RFC 6749 scope-token, named as such in the 403 challenge; a list would be ambiguous (all of them? one?).
  if (adminScope !== undefined && !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(adminScope)) {
    addProblem(
      problems,
      'KENNI_ADMIN_SCOPE',
      'must be one OAuth scope (no spaces or quotes)',
      'set it to the one scope an operator token carries, e.g. "@your-team.is/sessions.admin", or leave it unset',
    );
  }

  const edgeSigningKeys = parseEdgeSigningKeys(text('EDGE_SIGNING_KEY'), problems);
  const publicPaths = Object.freeze(pathList('PUBLIC_PATHS', []));
  const apiPaths = Object.freeze(pathList('API_PATHS', ['/api/']));
  const config: KenniEdgeConfig = {
    issuer: issuer ?? '',
    issuerIsLoopbackHttp,
    clientId: clientId ?? '',
    clientSecret,
    scope,
    apiScopes: Object.freeze(apiScopes),
    apiAudience,
    redirectUri,
    postLogoutRedirectUri,
    uiLocales: text('KENNI_UI_LOCALES'),
    m2mClientId,
    m2mClientSecret,
    sessionSecret: sessionSecret ?? '',
    previousSessionSecrets: Object.freeze(
      parsePreviousSessionSecrets(text('SESSION_SECRET_PREVIOUS'), sessionSecret, problems),
    ),
    originUrl,
    publicPaths,
    apiPaths,
    routes: parseRoutes(env.ROUTES, { publicPaths, apiPaths }, problems),
    originTimeoutMs: seconds('ORIGIN_TIMEOUT', 30, 1, 600) * 1000,
    sessionTtl: seconds('SESSION_TTL', 2_592_000, 60, 31_536_000),
    sessionIdleTtl: seconds('SESSION_IDLE_TTL', 86_400, 60, 31_536_000),
    // Frozen all the way down to the lists: one shared object serves every request of the isolate.
    edgeSigningKeys: Object.freeze(edgeSigningKeys.map((key) => Object.freeze(key))),
    refreshBeforeExpiry: seconds('REFRESH_BEFORE_EXPIRY', 60, 0, 3600),
    clockTolerance: seconds('CLOCK_TOLERANCE', 30, 0, 60),
    providerTimeoutMs: seconds('PROVIDER_TIMEOUT', 10, 1, 60) * 1000,
    introspection: introspection === 'off' ? 'off' : 'auto',
    adminScope,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

const parsedByEnv = new WeakMap<object, KenniEdgeConfig | ConfigError>();
const loggedConfigErrors = new Set<string>();

/**
 * Returns the configuration for this environment, parsing it on first use in
 * the isolate. An invalid configuration throws its {@link ConfigError} on every
 * call and is logged once.
 * @example
 * const config = loadConfig(c.env); // parsed once per isolate, frozen
 */
export function loadConfig(env: Env): KenniEdgeConfig {
  let result = parsedByEnv.get(env);
  if (result === undefined) {
    try {
      result = parseConfig(env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      result = error;
      if (!loggedConfigErrors.has(error.message)) {
        loggedConfigErrors.add(error.message);
        logEvent('config_invalid', {
          reason: 'config_invalid',
          detail: error.problems.map((p) => `${p.variable}: ${p.problem}`).join('; '),
        });
      }
    }
    parsedByEnv.set(env, result);
  }
  if (result instanceof ConfigError) throw result;
  return result;
}
