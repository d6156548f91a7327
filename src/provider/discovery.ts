/**
 * OpenID Provider discovery, held by the provider object (one per isolate)
 * and in the Cache API. The issuer in the document must equal `KENNI_ISSUER`
 * exactly.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 */
import * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { singleFlight } from '../util/single-flight.ts';
import { readEdgeCache, writeEdgeCache } from './edge-cache.ts';
import { assertProviderAvailable, createProviderFetch, sharedCallOptions } from './provider-fetch.ts';

/** How long a discovery document is trusted before it is fetched again. */
const DISCOVERY_TTL_SECONDS = 3600;
/** How long an old document keeps serving while the provider cannot be reached. */
const DISCOVERY_STALE_SECONDS = 86_400;

interface Held {
  server: oauth.AuthorizationServer;
  expiresAt: number;
  /** When the provider published this copy (ms). */
  storedAt: number;
  /** A copy past its TTL, kept while the provider cannot be reached. */
  stale: boolean;
}

/**
 * The age of the document held in the isolate and whether it is a stale copy
 * kept while the provider is down (read by `GET /auth/health`).
 */
export interface DiscoveryStatus {
  readonly storedAt: number;
  readonly stale: boolean;
}

/**
 * The provider's metadata for one configuration: the isolate copy, then the
 * Cache API, then the provider; a stale copy keeps serving while the provider
 * is down. Concurrent misses share one fetch.
 */
export class Discovery {
  #held: Held | undefined;
  #fetches = 0;
  readonly #config: KenniEdgeConfig;
  readonly #flight: (
    key: string,
    run: (signal: AbortSignal) => Promise<oauth.AuthorizationServer>,
  ) => Promise<oauth.AuthorizationServer>;

  constructor(config: KenniEdgeConfig) {
    this.#config = config;
    this.#flight = singleFlight(sharedCallOptions(config.providerTimeoutMs));
  }

  /** How many times this instance asked the provider for its document. */
  get fetches(): number {
    return this.#fetches;
  }

  /** The copy held in this isolate, or `undefined` before the first load. */
  get status(): DiscoveryStatus | undefined {
    const held = this.#held;
    return held && { storedAt: held.storedAt, stale: held.stale };
  }

  /** The discovery document (from the isolate when fresh: one comparison and no await on the hot path). */
  load(): Promise<oauth.AuthorizationServer> {
    const held = this.#held;
    if (held && held.expiresAt > Date.now()) return Promise.resolve(held.server);
    return this.#flight(this.#config.issuer, (signal) => this.#refresh(held, signal));
  }

  async #refresh(stale: Held | undefined, signal: AbortSignal): Promise<oauth.AuthorizationServer> {
    const config = this.#config;
    const cacheName = `discovery ${config.issuer}`;
    const shared = await readEdgeCache<oauth.AuthorizationServer>(config, cacheName);
    const sharedUsable = shared && shared.value.issuer === config.issuer ? shared : undefined;
    if (sharedUsable && sharedUsable.storedAt + DISCOVERY_TTL_SECONDS * 1000 > Date.now()) {
      this.#remember(sharedUsable.value, sharedUsable.storedAt);
      return sharedUsable.value;
    }
    try {
      const server = await this.#fetch(signal);
      this.#remember(server, Date.now());
      // Kept past its TTL so that a new isolate can still serve it while the provider is down.
      await writeEdgeCache(config, cacheName, server, DISCOVERY_TTL_SECONDS + DISCOVERY_STALE_SECONDS);
      return server;
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'provider_unreachable') throw error;
      // The provider is down: the newest copy we have (this isolate's or the data centre's) keeps serving.
      const copies = [
        stale && { server: stale.server, storedAt: stale.storedAt },
        sharedUsable && { server: sharedUsable.value, storedAt: sharedUsable.storedAt },
      ];
      const fallback = copies
        .filter((copy): copy is { server: oauth.AuthorizationServer; storedAt: number } => Boolean(copy))
        .filter((copy) => copy.storedAt + (DISCOVERY_TTL_SECONDS + DISCOVERY_STALE_SECONDS) * 1000 > Date.now())
        .sort((a, b) => b.storedAt - a.storedAt)[0];
      if (!fallback) throw error;
      // Try the provider again in a minute rather than on every request.
      this.#held = {
        server: fallback.server,
        expiresAt: Date.now() + 60_000,
        storedAt: fallback.storedAt,
        stale: true,
      };
      return fallback.server;
    }
  }

  #remember(server: oauth.AuthorizationServer, storedAt: number): void {
    this.#held = { server, expiresAt: storedAt + DISCOVERY_TTL_SECONDS * 1000, storedAt, stale: false };
  }

  /**
   * Fetches the document (a plain GET, redirects not followed: what oauth4webapi's
   * discoveryRequest sent) and keeps it only when it is a JSON object from a 200
   * whose `issuer` is exactly `KENNI_ISSUER`.
   */
  async #fetch(signal: AbortSignal): Promise<oauth.AuthorizationServer> {
    const config = this.#config;
    const url = new URL(config.issuer);
    url.pathname = `${url.pathname}/.well-known/openid-configuration`.replace('//', '/');
    this.#fetches++;
    const response = await createProviderFetch(config.providerTimeoutMs, signal)(url.href, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
    });
    assertProviderAvailable(response);
    const server = (response.status === 200 ? await response.json().catch(() => undefined) : undefined) as
      oauth.AuthorizationServer | undefined;
    // The exact string, not the same URL: the contract wants KENNI_ISSUER as written.
    if (!server || typeof server !== 'object' || server.issuer !== config.issuer)
      throw new AppError(
        'provider_misconfigured',
        'The sign-in provider published an invalid discovery document (its issuer must equal KENNI_ISSUER exactly).',
      );
    return server;
  }
}

/** The oauth4webapi options every provider request uses (timeout, loopback http for local development). */
export function providerRequestOptions(
  config: KenniEdgeConfig,
  signal?: AbortSignal,
): { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean } {
  return {
    [oauth.customFetch]: createProviderFetch(config.providerTimeoutMs, signal),
    [oauth.allowInsecureRequests]: config.issuerIsLoopbackHttp,
  };
}
