/**
 * OpenID Provider discovery, held in the isolate and in the Cache API. The
 * issuer in the document must equal `KENNI_ISSUER` exactly.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 */
import * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { readEdgeCache, writeEdgeCache } from './edge-cache.ts';
import { assertProviderAvailable, createProviderFetch } from './provider-fetch.ts';

/** How long a discovery document is trusted before it is fetched again. */
const DISCOVERY_TTL_SECONDS = 3600;
/** How long an old document keeps serving while the provider cannot be reached. */
const DISCOVERY_STALE_SECONDS = 86_400;

interface IsolateEntry {
  server: oauth.AuthorizationServer;
  expiresAt: number;
}

const isolateCache = new Map<string, IsolateEntry>();
const inFlight = new Map<string, Promise<oauth.AuthorizationServer>>();

/**
 * Loads the provider's metadata: isolate copy, then Cache API, then the
 * provider. A stale isolate copy keeps serving when the provider is down.
 */
export async function loadAuthorizationServer(config: KenniEdgeConfig): Promise<oauth.AuthorizationServer> {
  const cached = isolateCache.get(config.issuer);
  if (cached && cached.expiresAt > Date.now()) return cached.server;

  let pending = inFlight.get(config.issuer);
  if (!pending) {
    pending = refreshDiscovery(config, cached).finally(() => inFlight.delete(config.issuer));
    inFlight.set(config.issuer, pending);
  }
  return pending;
}

async function refreshDiscovery(config: KenniEdgeConfig, stale: IsolateEntry | undefined): Promise<oauth.AuthorizationServer> {
  const cacheName = `discovery ${config.issuer}`;
  const shared = await readEdgeCache<oauth.AuthorizationServer>(config, cacheName);
  const sharedUsable = shared && shared.value.issuer === config.issuer ? shared : undefined;
  if (sharedUsable && sharedUsable.storedAt + DISCOVERY_TTL_SECONDS * 1000 > Date.now()) {
    remember(config.issuer, sharedUsable.value, sharedUsable.storedAt);
    return sharedUsable.value;
  }
  try {
    const server = await fetchDiscovery(config);
    remember(config.issuer, server, Date.now());
    // Kept past its TTL so that a new isolate can still serve it while the provider is down.
    await writeEdgeCache(config, cacheName, server, DISCOVERY_TTL_SECONDS + DISCOVERY_STALE_SECONDS);
    return server;
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'provider_unreachable') throw error;
    // The provider is down: the newest copy we have (this isolate's or the data centre's) keeps serving.
    const fallback = [stale && { server: stale.server, storedAt: stale.expiresAt - DISCOVERY_TTL_SECONDS * 1000 }, sharedUsable && { server: sharedUsable.value, storedAt: sharedUsable.storedAt }]
      .filter((copy): copy is { server: oauth.AuthorizationServer; storedAt: number } => Boolean(copy))
      .filter((copy) => copy.storedAt + (DISCOVERY_TTL_SECONDS + DISCOVERY_STALE_SECONDS) * 1000 > Date.now())
      .sort((a, b) => b.storedAt - a.storedAt)[0];
    if (!fallback) throw error;
    // Try the provider again in a minute rather than on every request.
    isolateCache.set(config.issuer, { server: fallback.server, expiresAt: Date.now() + 60_000 });
    return fallback.server;
  }
}

function remember(issuer: string, server: oauth.AuthorizationServer, storedAt: number): void {
  isolateCache.set(issuer, { server, expiresAt: storedAt + DISCOVERY_TTL_SECONDS * 1000 });
}

async function fetchDiscovery(config: KenniEdgeConfig): Promise<oauth.AuthorizationServer> {
  const issuerUrl = new URL(config.issuer);
  const response = await oauth.discoveryRequest(issuerUrl, {
    algorithm: 'oidc',
    [oauth.customFetch]: createProviderFetch(config.providerTimeoutMs),
    [oauth.allowInsecureRequests]: config.issuerIsLoopbackHttp,
  });
  assertProviderAvailable(response);
  try {
    const server = await oauth.processDiscoveryResponse(issuerUrl, response);
    // oauth4webapi compares the issuer as a URL; the contract wants the exact string.
    if (server.issuer !== config.issuer) throw new Error('issuer mismatch');
    return server;
  } catch (cause) {
    throw new AppError(
      'provider_misconfigured',
      'The sign-in provider published an invalid discovery document (its issuer must equal KENNI_ISSUER exactly).',
      { cause },
    );
  }
}

/** The oauth4webapi options every provider request uses (timeout, loopback http for local development). */
export function providerRequestOptions(config: KenniEdgeConfig): { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean } {
  return {
    [oauth.customFetch]: createProviderFetch(config.providerTimeoutMs),
    [oauth.allowInsecureRequests]: config.issuerIsLoopbackHttp,
  };
}

/** Forgets cached discovery in this isolate (for tests and key-rotation drills). */
export function clearDiscoveryCache(): void {
  isolateCache.clear();
}
