/**
 * Which keys of a provider's JWKS the edge will use, and for which token:
 * signing keys only, the key type and curve the algorithm needs, a declared
 * `alg` respected, by `kid`, and without a `kid` only when exactly one key fits.
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
import type { JWK, JWSHeaderParameters } from 'jose';
import type * as oauth from 'oauth4webapi';

/** Signature algorithms the edge accepts at all; never `none`, never HMAC. */
export const ASYMMETRIC_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

const algorithmsByServer = new WeakMap<oauth.AuthorizationServer, string[]>();

/**
 * Algorithms accepted for the provider's tokens (ID and access): what it
 * advertises (`RS256` when silent), asymmetric only; per discovery document,
 * so a remembered token's lookup stays a lookup.
 */
export function signingAlgorithms(server: oauth.AuthorizationServer): string[] {
  let algorithms = algorithmsByServer.get(server);
  if (!algorithms) {
    const advertised = server.id_token_signing_alg_values_supported ?? ['RS256'];
    algorithms = advertised.filter((alg) => ASYMMETRIC_ALGORITHMS.includes(alg));
    algorithmsByServer.set(server, algorithms);
  }
  return algorithms;
}

/** Keys the runtime cannot use (private halves, symmetric keys, encryption keys, unknown types) are ignored, not fatal. */
export function isUsableSigningKey(key: unknown): key is JWK {
  if (!key || typeof key !== 'object') return false;
  const jwk = key as JWK;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return false;
  if ('d' in jwk || jwk.kty === 'oct') return false;
  if (jwk.kty === 'RSA') return typeof jwk.n === 'string' && typeof jwk.e === 'string';
  if (jwk.kty === 'EC')
    return (
      typeof jwk.x === 'string' && typeof jwk.y === 'string' && ['P-256', 'P-384', 'P-521'].includes(jwk.crv ?? '')
    );
  if (jwk.kty === 'OKP') return typeof jwk.x === 'string' && jwk.crv === 'Ed25519';
  return false;
}

/** The key type and curve an algorithm needs. */
function fitsAlgorithm(jwk: JWK, alg: string | undefined): boolean {
  if (!alg) return false;
  if (
    jwk.alg !== undefined &&
    jwk.alg !== alg &&
    !(alg === 'EdDSA' && jwk.alg === 'Ed25519') &&
    !(alg === 'Ed25519' && jwk.alg === 'EdDSA')
  )
    return false;
  if (/^(RS|PS)\d{3}$/.test(alg)) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'ES512') return jwk.kty === 'EC' && jwk.crv === 'P-521';
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** The key for a JWS header: by `kid` when the header names one; without a `kid`, only when exactly one key fits. */
export function selectKey(keys: readonly JWK[], header: JWSHeaderParameters): JWK | undefined {
  const fitting = keys.filter(
    (key) => fitsAlgorithm(key, header.alg) && (header.kid === undefined || key.kid === header.kid),
  );
  return fitting.length === 1 ? fitting[0] : undefined;
}

/** Uses the provider's `max-age` when it is sane (1 minute to 1 day), else the default. */
export function ttlFrom(cacheControl: string | null, fallback: number): number {
  const match = cacheControl && /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl);
  if (!match || /no-store|no-cache/i.test(cacheControl ?? '')) return fallback;
  const maxAge = Number(match[1]);
  return maxAge >= 60 && maxAge <= 86_400 ? maxAge : fallback;
}
