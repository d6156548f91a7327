/**
 * The provider's signing keys (JWKS), from discovery's `jwks_uri` only, held by
 * the provider object and in the Cache API. An unknown `kid` triggers at most
 * one refetch per cooldown, shared by concurrent requests; when the provider is
 * down, the keys already known keep working (stale-if-error, bounded).
 *
 * Errors are provider-neutral: a token no key fits is a {@link KeySetError};
 * a key set that cannot be loaded at all is `provider_unreachable` (502). Each
 * caller says what a {@link KeySetError} means for its token.
 * @see https://www.rfc-editor.org/rfc/rfc7517
 */
import type { JWK, JWSHeaderParameters } from 'jose';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { importJwk } from '../util/jws.ts';
import { singleFlight } from '../util/single-flight.ts';
import { TtlMap } from '../util/ttl-map.ts';
import { readEdgeCache, writeEdgeCache } from './edge-cache.ts';
import { isUsableSigningKey, selectKey, ttlFrom } from './jwk-rules.ts';
import { assertProviderAvailable, createProviderFetch, sharedCallOptions } from './provider-fetch.ts';

/** Tunables of the JWKS cache (seconds unless named otherwise). */
export interface JwksCacheOptions {
  /** Fallback TTL when the provider sends no usable Cache-Control. Default 600. */
  ttl: number;
  /** Minimum seconds between refetches caused by unknown kids. Default 30. */
  cooldown: number;
  /** How long known keys keep working while the provider's JWKS fails. Default 86400. */
  staleIfError: number;
  /** Fetch timeout in milliseconds. */
  timeoutMs: number;
  /** `SESSION_SECRET`: the Cache API copy is MACed with a key derived from it. */
  sessionSecret: string;
}

/** Default cache tunables (see {@link JwksCacheOptions}). */
export const DEFAULT_JWKS_OPTIONS: Readonly<Omit<JwksCacheOptions, 'timeoutMs' | 'sessionSecret'>> = Object.freeze({
  ttl: 600,
  cooldown: 30,
  staleIfError: 86_400,
});

/** The JWKS cache options for a configuration: the defaults, its provider timeout and its secret. */
export function jwksCacheOptions(config: KenniEdgeConfig): JwksCacheOptions {
  return { ...DEFAULT_JWKS_OPTIONS, timeoutMs: config.providerTimeoutMs, sessionSecret: config.sessionSecret };
}

/** Why no key was found for a token: `unknown_key` (none fits its header), `no_keys` (the set holds no usable key). */
export type KeySetErrorCode = 'unknown_key' | 'no_keys';

/** No key of the provider fits the token; not an HTTP error: the caller maps it (bearer → 401, login → `id_token_invalid`). */
export class KeySetError extends Error {
  readonly code: KeySetErrorCode;

  constructor(code: KeySetErrorCode) {
    super(
      code === 'no_keys'
        ? 'The provider publishes no usable signing key.'
        : 'The token was not signed by a known key of the provider.',
    );
    this.name = 'KeySetError';
    this.code = code;
  }
}

interface KeySetSnapshot {
  keys: JWK[];
  fetchedAt: number;
  expiresAt: number;
  /** Kept past its TTL because the provider could not be reached (never written to the Cache API). */
  stale?: boolean;
}

/** What a key set held in the isolate looks like (read by `GET /auth/health`). */
export interface KeySetStatus {
  /** When the provider published these keys (ms). */
  readonly fetchedAt: number;
  /** How many usable signing keys the set holds. */
  readonly keys: number;
  /** Kept past its TTL while the provider cannot be reached. */
  readonly stale: boolean;
}

interface UriState {
  snapshot: KeySetSnapshot | undefined;
  lastFetchAttemptAt: number;
  loading: boolean;
  imported: TtlMap<string, Promise<CryptoKey>>;
}

/** At most this many `jwks_uri`s are remembered (one in practice; more only through library calls). */
const MAX_KEY_SETS = 16;
/** Imported keys kept per key set (a few in practice; bounded against a provider that publishes thousands). */
const MAX_IMPORTED_KEYS = 64;
const DAY_SECONDS = 86_400;

/** The provider's key sets by `jwks_uri`, for one configuration (created once per isolate with its provider). */
export class KeySet {
  readonly #options: JwksCacheOptions;
  readonly #states = new TtlMap<string, UriState>({ maxEntries: MAX_KEY_SETS, ttlSeconds: 2 * DAY_SECONDS });
  readonly #flight: (key: string, run: (signal: AbortSignal) => Promise<KeySetSnapshot>) => Promise<KeySetSnapshot>;
  #generation = 0;
  #fetches = 0;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#flight = singleFlight(sharedCallOptions(options.timeoutMs));
  }

  /** Changes whenever a key set is replaced: results verified under an older generation must be verified again. */
  get generation(): number {
    return this.#generation;
  }

  /** How many times this instance fetched a JWKS from the provider. */
  get fetches(): number {
    return this.#fetches;
  }

  /**
   * Loads the key set of `jwksUri` unless a fresh one is held (isolate, Cache
   * API, then the provider, stale-if-error), and says what is held. Throws
   * `provider_unreachable` (502) when no keys could be loaded.
   */
  async status(jwksUri: string): Promise<KeySetStatus> {
    const state = this.#stateFor(jwksUri);
    let snapshot = state.snapshot;
    if (!snapshot || snapshot.expiresAt <= Date.now())
      snapshot = await this.#load(jwksUri, state, { allowStale: true });
    return { fetchedAt: snapshot.fetchedAt, keys: snapshot.keys.length, stale: snapshot.stale === true };
  }

  /**
   * The verification key for a JWS header. Throws {@link KeySetError} when no
   * key fits, and `provider_unreachable` (502) when no keys could be loaded.
   */
  async resolve(jwksUri: string, header: JWSHeaderParameters): Promise<CryptoKey> {
    const options = this.#options;
    const state = this.#stateFor(jwksUri);
    const now = Date.now();
    let snapshot = state.snapshot;
    if (!snapshot || snapshot.expiresAt <= now) snapshot = await this.#load(jwksUri, state, { allowStale: true });
    let jwk = selectKey(snapshot.keys, header);
    if (!jwk && header.kid !== undefined) {
      // A key we have not seen: maybe the provider rotated. Another isolate may already have the new set.
      const shared = await readEdgeCache<KeySetSnapshot>(options, cacheName(jwksUri));
      if (shared && shared.value.fetchedAt > snapshot.fetchedAt && selectKey(shared.value.keys, header)) {
        state.snapshot = snapshot = shared.value;
        this.#generation++;
      } else if (now - state.lastFetchAttemptAt >= options.cooldown * 1000 || state.loading) {
        snapshot = await this.#load(jwksUri, state, { allowStale: true, skipSharedCache: true });
      }
      jwk = selectKey(snapshot.keys, header);
    }
    if (!jwk) throw new KeySetError(snapshot.keys.length === 0 ? 'no_keys' : 'unknown_key');
    return importKey(state, jwk, header.alg as string);
  }

  #stateFor(jwksUri: string): UriState {
    let state = this.#states.get(jwksUri);
    if (!state) {
      state = {
        snapshot: undefined,
        lastFetchAttemptAt: 0,
        loading: false,
        imported: new TtlMap({ maxEntries: MAX_IMPORTED_KEYS, ttlSeconds: DAY_SECONDS }),
      };
      this.#states.set(jwksUri, state);
    }
    return state;
  }

  /** Loads the set once for all concurrent callers (the first caller's mode applies to the shared run). */
  #load(
    jwksUri: string,
    state: UriState,
    mode: { allowStale: boolean; skipSharedCache?: boolean },
  ): Promise<KeySetSnapshot> {
    return this.#flight(jwksUri, async (signal) => {
      state.loading = true;
      try {
        const snapshot = await this.#loadOnce(jwksUri, state, mode, signal);
        if (state.snapshot !== snapshot) this.#generation++;
        state.snapshot = snapshot;
        this.#states.set(jwksUri, state); // in use: it stays the newest entry
        return snapshot;
      } finally {
        state.loading = false;
      }
    });
  }

  async #loadOnce(
    jwksUri: string,
    state: UriState,
    mode: { allowStale: boolean; skipSharedCache?: boolean },
    signal: AbortSignal,
  ): Promise<KeySetSnapshot> {
    const options = this.#options;
    let shared: KeySetSnapshot | undefined;
    if (!mode.skipSharedCache) {
      shared = (await readEdgeCache<KeySetSnapshot>(options, cacheName(jwksUri)))?.value;
      if (shared && shared.expiresAt > Date.now()) return shared;
    }
    state.lastFetchAttemptAt = Date.now();
    try {
      this.#fetches++;
      const fetched = await fetchKeySet(jwksUri, options, signal);
      await writeEdgeCache(
        options,
        cacheName(jwksUri),
        fetched,
        (fetched.expiresAt - fetched.fetchedAt) / 1000 + options.staleIfError,
      );
      return fetched;
    } catch (error) {
      // A fresh isolate has no keys of its own, but the Cache API copy is kept for exactly this (stale-if-error).
      const stale =
        shared && (!state.snapshot || shared.fetchedAt > state.snapshot.fetchedAt) ? shared : state.snapshot;
      if (mode.allowStale && stale && stale.fetchedAt + options.staleIfError * 1000 > Date.now()) {
        // Keep serving the keys we know; try the provider again after the cooldown.
        return { ...stale, expiresAt: Date.now() + options.cooldown * 1000, stale: true };
      }
      throw error;
    }
  }
}

async function fetchKeySet(jwksUri: string, options: JwksCacheOptions, signal: AbortSignal): Promise<KeySetSnapshot> {
  const response = await createProviderFetch(options.timeoutMs, signal)(jwksUri, {
    headers: { accept: 'application/jwk-set+json, application/json' },
  });
  assertProviderAvailable(response);
  let body: unknown;
  try {
    body = response.ok ? await response.json() : undefined;
  } catch {
    body = undefined;
  }
  if (!body || typeof body !== 'object' || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new AppError(
      'provider_unreachable',
      `The provider's key set (JWKS) could not be read (HTTP ${response.status}).`,
    );
  }
  const keys = (body as { keys: unknown[] }).keys.filter(isUsableSigningKey);
  const fetchedAt = Date.now();
  return { keys, fetchedAt, expiresAt: fetchedAt + ttlFrom(response.headers.get('cache-control'), options.ttl) * 1000 };
}

function importKey(state: UriState, jwk: JWK, alg: string): Promise<CryptoKey> {
  const id = `${alg} ${jwk.kid ?? ''} ${jwk.n ?? ''}${jwk.x ?? ''}${jwk.y ?? ''}`;
  let key = state.imported.get(id);
  if (!key) {
    key = importJwk(jwk as JsonWebKey, alg, 'verify');
    state.imported.set(id, key);
    key.catch(() => state.imported.delete(id));
  }
  return key;
}

function cacheName(jwksUri: string): string {
  return `jwks ${jwksUri}`;
}
