/**
 * Machine-to-machine access tokens with the client-credentials grant, using
 * `KENNI_M2M_CLIENT_ID` / `KENNI_M2M_CLIENT_SECRET` (RFC 6749 §2.3.1 Basic).
 * Tokens are cached per client and scope in the isolate and, sealed, in the
 * Cache API until shortly before they expire; concurrent misses share one request.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
import { loadConfig, type Env, type KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { requestClientCredentialsToken } from '../oidc/client.ts';
import { loadAuthorizationServer } from '../oidc/discovery.ts';
import { readEdgeCache, writeEdgeCache } from '../oidc/edge-cache.ts';
import { deriveSealKey, seal, sha256Hex, unseal } from '../session/seal.ts';
import { nowSeconds } from '../time.ts';

/** A cached client-credentials token. */
export interface ClientCredentialsToken {
  access_token: string;
  token_type: string;
  /** Seconds since the epoch. */
  expires_at: number;
  /** When the cache stops handing this token out (60 s, or a tenth of its life if shorter, before expiry). */
  renew_at: number;
  scope?: string;
}

/** Options for {@link getClientCredentialsToken}. */
export interface ClientCredentialsOptions {
  /** Space-separated scopes, e.g. `@your-team.is/orders.read`. */
  scope?: string;
}

const isolateTokens = new Map<string, ClientCredentialsToken>();
const inFlight = new Map<string, Promise<ClientCredentialsToken>>();

/** Counts token requests sent to the provider from this isolate (tests and benchmarks read it). */
export const clientCredentialsRequestCounter = { count: 0 };

/**
 * Returns an access token for the M2M client and `scope`, from the cache when
 * it is still good for a while, else from the provider's token endpoint.
 * Throws `m2m_not_configured` (500) without credentials, `provider_unreachable` (502).
 */
export async function getClientCredentialsToken(env: Env, options: ClientCredentialsOptions = {}): Promise<ClientCredentialsToken> {
  const config = loadConfig(env);
  if (!config.m2mClientId || !config.m2mClientSecret) {
    throw new AppError('m2m_not_configured', 'Set KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET to use client credentials.');
  }
  const scope = normalizeScope(options.scope);
  // The secret is part of the key, so rotating it never serves a token of the old credentials.
  const cacheKey = await sha256Hex([config.issuer, config.m2mClientId, config.m2mClientSecret, scope].join('\u0000'));

  const held = isolateTokens.get(cacheKey);
  if (held && stillGood(held)) return held;

  let pending = inFlight.get(cacheKey);
  if (!pending) {
    pending = fetchOrReadShared(config, cacheKey, scope).finally(() => inFlight.delete(cacheKey));
    inFlight.set(cacheKey, pending);
  }
  return pending;
}

async function fetchOrReadShared(config: KenniEdgeConfig, cacheKey: string, scope: string): Promise<ClientCredentialsToken> {
  const sealKey = await deriveSealKey(config.sessionSecret, 'm2m-token');
  const shared = await readEdgeCache<string>(config, `m2m ${cacheKey}`);
  if (shared) {
    const token = await unseal<ClientCredentialsToken>(sealKey, shared.value, cacheKey);
    if (token && stillGood(token)) {
      isolateTokens.set(cacheKey, token);
      return token;
    }
  }
  const server = await loadAuthorizationServer(config);
  clientCredentialsRequestCounter.count++;
  let token: ClientCredentialsToken;
  try {
    const tokens = await requestClientCredentialsToken(config, server, { clientId: config.m2mClientId!, clientSecret: config.m2mClientSecret! }, scope || undefined);
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
  isolateTokens.set(cacheKey, token);
  await writeEdgeCache(config, `m2m ${cacheKey}`, await seal(sealKey, token, cacheKey), Math.max(1, token.renew_at - nowSeconds()));
  return token;
}

function stillGood(token: ClientCredentialsToken): boolean {
  return nowSeconds() < token.renew_at;
}

function normalizeScope(scope: string | undefined): string {
  return [...new Set((scope ?? '').split(/\s+/).filter(Boolean))].sort().join(' ');
}

/** Forgets every cached M2M token in this isolate (tests: a fresh isolate). */
export function clearClientCredentialsIsolateCache(): void {
  isolateTokens.clear();
}
