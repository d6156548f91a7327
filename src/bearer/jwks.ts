/**
 * The provider's signing keys (JWKS), from discovery's `jwks_uri` only, held in
 * the isolate and in the Cache API. An unknown `kid` triggers at most one refetch
 * per cooldown, shared by concurrent requests; when the provider is down, the
 * keys already known keep working (stale-if-error, bounded).
 * @see https://www.rfc-editor.org/rfc/rfc7517
 */
import { importJWK, type JWK, type JWSHeaderParameters } from 'jose';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { readEdgeCache, writeEdgeCache } from '../oidc/edge-cache.ts';
import { assertProviderAvailable, createProviderFetch } from '../oidc/provider-fetch.ts';

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
export const DEFAULT_JWKS_OPTIONS: Readonly<Omit<JwksCacheOptions, 'timeoutMs' | 'sessionSecret'>> = Object.freeze({ ttl: 600, cooldown: 30, staleIfError: 86_400 });

/** The JWKS cache options for a configuration: the defaults, its provider timeout and its secret. */
export function jwksCacheOptions(config: KenniEdgeConfig): JwksCacheOptions {
  return { ...DEFAULT_JWKS_OPTIONS, timeoutMs: config.providerTimeoutMs, sessionSecret: config.sessionSecret };
}

interface KeySetSnapshot {
  keys: JWK[];
  fetchedAt: number;
  expiresAt: number;
}

interface KeySetState {
  snapshot: KeySetSnapshot | undefined;
  lastFetchAttemptAt: number;
  inFlight: Promise<KeySetSnapshot> | undefined;
  imported: Map<string, Promise<CryptoKey>>;
}

const states = new Map<string, KeySetState>();

/** Signature algorithms the edge accepts at all; never `none`, never HMAC. */
export const ASYMMETRIC_ALGORITHMS = Object.freeze(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

let keySetGeneration = 0;

/**
 * Changes whenever a key set in this isolate is replaced (or the cache is
 * cleared): results verified under an older generation must be verified again.
 */
export function currentKeySetGeneration(): number {
  return keySetGeneration;
}

/** Counts provider JWKS fetches in this isolate (read by tests and the benchmark). */
export const jwksFetchCounter = { count: 0 };

/**
 * Resolves the verification key for a JWS header from the provider's JWKS.
 * Throws `AppError('bearer_invalid', 401)` when no key fits, and
 * `provider_unreachable` (502) when no keys could ever be loaded.
 */
export async function resolveSigningKey(jwksUri: string, header: JWSHeaderParameters, options: JwksCacheOptions): Promise<CryptoKey> {
  const state = stateFor(jwksUri);
  const now = Date.now();
  let snapshot = state.snapshot;

  if (!snapshot || snapshot.expiresAt <= now) {
    snapshot = await loadKeySet(jwksUri, state, options, { allowStale: true });
  }
  let jwk = selectKey(snapshot.keys, header);
  if (!jwk && header.kid !== undefined) {
    // A key we have not seen: maybe the provider rotated. Another isolate may already have the new set.
    const shared = await readEdgeCache<KeySetSnapshot>(options, cacheName(jwksUri));
    if (shared && shared.value.fetchedAt > snapshot.fetchedAt && selectKey(shared.value.keys, header)) {
      state.snapshot = snapshot = shared.value;
      keySetGeneration++;
    } else if (now - state.lastFetchAttemptAt >= options.cooldown * 1000 || state.inFlight) {
      snapshot = await loadKeySet(jwksUri, state, options, { allowStale: true, skipSharedCache: true });
    }
    jwk = selectKey(snapshot.keys, header);
  }
  if (!jwk) {
    throw new AppError('bearer_invalid', 'The token was not signed by a known key of the provider.', { oauthError: 'invalid_token', reason: 'unknown_key' });
  }
  return importKey(state, jwk, header.alg as string);
}

function stateFor(jwksUri: string): KeySetState {
  let state = states.get(jwksUri);
  if (!state) {
    state = { snapshot: undefined, lastFetchAttemptAt: 0, inFlight: undefined, imported: new Map() };
    states.set(jwksUri, state);
  }
  return state;
}

async function loadKeySet(
  jwksUri: string,
  state: KeySetState,
  options: JwksCacheOptions,
  mode: { allowStale: boolean; skipSharedCache?: boolean },
): Promise<KeySetSnapshot> {
  if (state.inFlight) return state.inFlight;
  const pending = (async () => {
    let shared: KeySetSnapshot | undefined;
    if (!mode.skipSharedCache) {
      shared = (await readEdgeCache<KeySetSnapshot>(options, cacheName(jwksUri)))?.value;
      if (shared && shared.expiresAt > Date.now()) return shared;
    }
    state.lastFetchAttemptAt = Date.now();
    try {
      const fetched = await fetchKeySet(jwksUri, options);
      await writeEdgeCache(options, cacheName(jwksUri), fetched, (fetched.expiresAt - fetched.fetchedAt) / 1000 + options.staleIfError);
      return fetched;
    } catch (error) {
      // A fresh isolate has no keys of its own, but the Cache API copy is kept for exactly this (stale-if-error).
      const stale = shared && (!state.snapshot || shared.fetchedAt > state.snapshot.fetchedAt) ? shared : state.snapshot;
      if (mode.allowStale && stale && stale.fetchedAt + options.staleIfError * 1000 > Date.now()) {
        // Keep serving the keys we know; try the provider again after the cooldown.
        return { ...stale, expiresAt: Date.now() + options.cooldown * 1000 };
      }
      throw error;
    }
  })();
  state.inFlight = pending;
  try {
    const snapshot = await pending;
    if (state.snapshot !== snapshot) keySetGeneration++;
    state.snapshot = snapshot;
    return snapshot;
  } finally {
    state.inFlight = undefined;
  }
}

async function fetchKeySet(jwksUri: string, options: JwksCacheOptions): Promise<KeySetSnapshot> {
  jwksFetchCounter.count++;
  const response = await createProviderFetch(options.timeoutMs)(jwksUri, { headers: { accept: 'application/jwk-set+json, application/json' } });
  assertProviderAvailable(response);
  let body: unknown;
  try {
    body = response.ok ? await response.json() : undefined;
  } catch {
    body = undefined;
  }
  if (!body || typeof body !== 'object' || !Array.isArray((body as { keys?: unknown }).keys)) {
    throw new AppError('provider_unreachable', `The provider's key set (JWKS) could not be read (HTTP ${response.status}).`);
  }
  const keys = ((body as { keys: unknown[] }).keys).filter(isUsableSigningKey);
  const fetchedAt = Date.now();
  return { keys, fetchedAt, expiresAt: fetchedAt + ttlFrom(response.headers.get('cache-control'), options.ttl) * 1000 };
}

/** Uses the provider's `max-age` when it is sane (1 minute to 1 day), else the default. */
function ttlFrom(cacheControl: string | null, fallback: number): number {
  const match = cacheControl && /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl);
  if (!match || /no-store|no-cache/i.test(cacheControl ?? '')) return fallback;
  const maxAge = Number(match[1]);
  return maxAge >= 60 && maxAge <= 86_400 ? maxAge : fallback;
}

/** Keys the runtime cannot use (private halves, symmetric keys, encryption keys, unknown types) are ignored, not fatal. */
function isUsableSigningKey(key: unknown): key is JWK {
  if (!key || typeof key !== 'object') return false;
  const jwk = key as JWK;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return false;
  if ('d' in jwk || jwk.kty === 'oct') return false;
  if (jwk.kty === 'RSA') return typeof jwk.n === 'string' && typeof jwk.e === 'string';
  if (jwk.kty === 'EC') return typeof jwk.x === 'string' && typeof jwk.y === 'string' && ['P-256', 'P-384', 'P-521'].includes(jwk.crv ?? '');
  if (jwk.kty === 'OKP') return typeof jwk.x === 'string' && jwk.crv === 'Ed25519';
  return false;
}

/** The key type and curve an algorithm needs. */
function fitsAlgorithm(jwk: JWK, alg: string | undefined): boolean {
  if (!alg) return false;
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === 'EdDSA' && jwk.alg === 'Ed25519') && !(alg === 'Ed25519' && jwk.alg === 'EdDSA')) return false;
  if (/^(RS|PS)\d{3}$/.test(alg)) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.kty === 'EC' && jwk.crv === 'P-521';
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** By `kid` when the header names one; without a `kid`, only when exactly one key fits. */
function selectKey(keys: readonly JWK[], header: JWSHeaderParameters): JWK | undefined {
  const fitting = keys.filter((key) => fitsAlgorithm(key, header.alg) && (header.kid === undefined || key.kid === header.kid));
  return fitting.length === 1 ? fitting[0] : undefined;
}

function importKey(state: KeySetState, jwk: JWK, alg: string): Promise<CryptoKey> {
  const id = `${alg} ${jwk.kid ?? ''} ${jwk.n ?? ''}${jwk.x ?? ''}${jwk.y ?? ''}`;
  let key = state.imported.get(id);
  if (!key) {
    key = importJWK({ ...jwk, alg: jwk.alg ?? alg }, alg) as Promise<CryptoKey>;
    state.imported.set(id, key);
    key.catch(() => state.imported.delete(id));
  }
  return key;
}

function cacheName(jwksUri: string): string {
  return `jwks ${jwksUri}`;
}

/** Forgets every key set held in this isolate (for tests: a "cold isolate"). */
export function clearJwksIsolateCache(): void {
  states.clear();
  keySetGeneration++;
}
