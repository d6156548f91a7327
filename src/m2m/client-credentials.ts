/**
 * Machine-to-machine access tokens with the client-credentials grant, using
 * `KENNI_M2M_CLIENT_ID` / `KENNI_M2M_CLIENT_SECRET` (RFC 6749 §2.3.1 Basic).
 * Tokens are cached per client and scope in the isolate and, sealed, in the
 * Cache API until shortly before they expire; concurrent misses share one request.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import { loadConfig, type Env } from '../config.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { readEdgeCache, writeEdgeCache } from '../provider/edge-cache.ts';
import { sharedCallOptions } from '../provider/provider-fetch.ts';
import { loadProvider, type Provider } from '../provider/index.ts';
import { deriveSealKey, seal, sha256Hex, unseal } from '../session/seal.ts';
import { nowSeconds } from '../time.ts';
import { singleFlight } from '../util/single-flight.ts';
import { TtlMap } from '../util/ttl-map.ts';

/**
 * A cached client-credentials token.
 * @example
 * const { access_token, expires_at } = await getClientCredentialsToken(env, { scope: '@your-team.is/api.read' });
 */
export interface ClientCredentialsToken {
  access_token: string;
  token_type: string;
  /** Seconds since the epoch. */
  expires_at: number;
  /** When the cache stops handing this token out (60 s, or a tenth of its life if shorter, before expiry). */
  renew_at: number;
  scope?: string;
}

/**
 * Options for {@link getClientCredentialsToken}.
 * @example
 * await getClientCredentialsToken(env, { scope: '@your-team.is/orders.read' });
 */
export interface ClientCredentialsOptions {
  /** Space-separated scopes, e.g. `@your-team.is/orders.read`. */
  scope?: string;
}

/** The isolate's M2M tokens of one provider, by a hash of issuer, client, secret and scope. */
interface TokenCache {
  tokens: TtlMap<string, ClientCredentialsToken>;
  flight: (key: string, run: () => Promise<ClientCredentialsToken>) => Promise<ClientCredentialsToken>;
}

/** Distinct scopes held at once; more than a handful means a caller builds scopes dynamically. */
const MAX_CACHED_TOKENS = 256;
/** Kept alongside the provider object, so a fresh configuration (a new isolate) starts empty. */
const cachesByProvider = new WeakMap<Provider, TokenCache>();

function tokenCacheFor(provider: Provider): TokenCache {
  let cache = cachesByProvider.get(provider);
  if (!cache) {
    // Each entry lives until its renewal time (set per entry); the default only bounds a token with no usable lifetime.
    cache = {
      tokens: new TtlMap({ maxEntries: MAX_CACHED_TOKENS, ttlSeconds: 60 }),
      flight: singleFlight(sharedCallOptions(provider.config.providerTimeoutMs, 2)),
    };
    cachesByProvider.set(provider, cache);
  }
  return cache;
}

/**
 * Returns an access token for the M2M client and `scope`, from the cache when
 * it is still good for a while, else from the provider's token endpoint.
 * Throws `m2m_not_configured` (500) without credentials, `provider_unreachable` (502).
 * @example
 * const { access_token } = await getClientCredentialsToken(env, { scope: '@your-team.is/orders.read' });
 * await fetch('https://api.example.is/orders', { headers: { authorization: `Bearer ${access_token}` } });
 */
export async function getClientCredentialsToken(
  env: Env,
  options: ClientCredentialsOptions = {},
): Promise<ClientCredentialsToken> {
  const config = loadConfig(env);
  if (!config.m2mClientId || !config.m2mClientSecret) {
    throw new AppError(
      'm2m_not_configured',
      'Set KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET to use client credentials.',
    );
  }
  const scope = normalizeScope(options.scope);
  // The secret is part of the key, so rotating it never serves a token of the old credentials.
  const cacheKey = await sha256Hex([config.issuer, config.m2mClientId, config.m2mClientSecret, scope].join('\u0000'));

  const provider = loadProvider(config);
  const cache = tokenCacheFor(provider);
  const held = cache.tokens.get(cacheKey);
  if (held && stillGood(held)) return held;
  return cache.flight(cacheKey, () => fetchOrReadShared(provider, cache.tokens, cacheKey, scope));
}

async function fetchOrReadShared(
  provider: Provider,
  held: TtlMap<string, ClientCredentialsToken>,
  cacheKey: string,
  scope: string,
): Promise<ClientCredentialsToken> {
  const config = provider.config;
  const sealKey = await deriveSealKey(config.sessionSecret, 'm2m-token');
  const shared = await readEdgeCache<string>(config, `m2m ${cacheKey}`);
  if (shared) {
    const token = await unseal<ClientCredentialsToken>(sealKey, shared.value, cacheKey);
    if (token && stillGood(token)) {
      remember(held, cacheKey, token);
      return token;
    }
  }
  await provider.discovery(); // a discovery failure is the provider's, not a failed token request
  let token: ClientCredentialsToken;
  try {
    const tokens = await provider.clientCredentials(
      { clientId: config.m2mClientId!, clientSecret: config.m2mClientSecret! },
      scope || undefined,
    );
    const lifetime = Math.max(0, tokens.expires_at - nowSeconds());
    token = {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_at: tokens.expires_at,
      renew_at: tokens.expires_at - Math.min(60, Math.ceil(lifetime / 10)),
      ...(tokens.scope ? { scope: tokens.scope } : {}),
    };
  } catch (error) {
    logEvent('m2m_token_failed', { reason: error instanceof AppError ? error.reason : 'internal_error' });
    throw error;
  }
  logEvent('m2m_token_issued', { n_expires_in: token.expires_at - nowSeconds() });
  remember(held, cacheKey, token);
  await writeEdgeCache(
    config,
    `m2m ${cacheKey}`,
    await seal(sealKey, token, cacheKey),
    Math.max(1, token.renew_at - nowSeconds()),
  );
  return token;
}

/** Held until its renewal time (the per-entry lifetime); `stillGood` still checks on every read. */
function remember(held: TtlMap<string, ClientCredentialsToken>, cacheKey: string, token: ClientCredentialsToken): void {
  held.set(cacheKey, token, Math.max(1, token.renew_at - nowSeconds()));
}

function stillGood(token: ClientCredentialsToken): boolean {
  return nowSeconds() < token.renew_at;
}

function normalizeScope(scope: string | undefined): string {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))].sort().join(' ');
}
