/**
 * Compact JWS in a few lines of Web Crypto: key import, signature check and
 * the JWT claim checks the edge needs (replacing jose in the bundle: it kept
 * ~8 KB gzip of JWE and key-format code the edge never runs). The checks are
 * jose's, one for one: an algorithm allow-list, `crit` only for `b64: true`,
 * RSA keys of 2048 bits or more, required claims present, exact `iss`, `aud`
 * (string or array), numeric `iat`/`nbf`/`exp`, `nbf` and `exp` with a leeway.
 * @see https://www.rfc-editor.org/rfc/rfc7515
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 */
import type { JWTPayload } from 'jose';
import { base64UrlDecode, base64UrlEncode } from '../session/seal.ts';
import { nowSeconds } from '../time.ts';

const encoder = new TextEncoder();

/** Why a JWT was refused: `expired`, `invalid_<claim>`, `bad_signature`, or `unverifiable` (malformed, unsupported). */
export class JwtError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`JWT refused: ${reason}`);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

/** A decoded protected header. */
export type JwsHeader = Record<string, unknown> & { alg?: string; kid?: string };

/** What {@link verifyJwt} checks besides the signature. */
export interface JwtChecks {
  algorithms: readonly string[];
  issuer: string;
  audience: string;
  /** Leeway for `nbf` and `exp`, seconds. */
  clockTolerance: number;
  /** Claims that must be present (`iss` and `aud` always are). */
  requiredClaims?: readonly string[];
}

type ImportParams = Parameters<SubtleCrypto['importKey']>[2];
type SignParams = Parameters<SubtleCrypto['verify']>[0];

/** Web Crypto parameters of an asymmetric JWS algorithm: [import, sign/verify]; undefined for any other. */
function algorithmParams(alg: string): [ImportParams, SignParams] | undefined {
  const match = /^(RS|PS|ES)(256|384|512)$/.exec(alg);
  if (!match) return alg === 'EdDSA' || alg === 'Ed25519' ? [{ name: 'Ed25519' }, { name: 'Ed25519' }] : undefined;
  const [, family, bits] = match as unknown as [string, string, string];
  const hash = `SHA-${bits}`;
  if (family === 'ES')
    return [
      { name: 'ECDSA', namedCurve: bits === '512' ? 'P-521' : `P-${bits}` },
      { name: 'ECDSA', hash },
    ];
  const name = family === 'RS' ? 'RSASSA-PKCS1-v1_5' : 'RSA-PSS';
  return [
    { name, hash },
    { name, saltLength: Number(bits) / 8 },
  ];
}

/** Imports a JWK for `alg` (its `alg` and `use` members dropped, as jose does); rejects an unsupported `alg`. */
export async function importJwk(jwk: JsonWebKey, alg: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  const params = algorithmParams(alg);
  if (!params) throw new JwtError('unverifiable');
  if (jwk.ext !== undefined && typeof jwk.ext !== 'boolean') throw new JwtError('unverifiable');
  const { alg: _alg, use: _use, ...data } = jwk as JsonWebKey & { use?: unknown };
  return crypto.subtle.importKey('jwk', data, params[0], false, jwk.key_ops ?? [usage]);
}

/** Base64url without padding, of bytes or of a string's UTF-8. */
export function base64url(input: Uint8Array | ArrayBuffer | string): string {
  return base64UrlEncode(typeof input === 'string' ? encoder.encode(input) : new Uint8Array(input));
}

/** Decodes base64url (no padding, no other characters); throws {@link JwtError} on anything else. */
export function fromBase64url(segment: string): Uint8Array {
  const bytes = base64UrlDecode(segment);
  if (!bytes) throw new JwtError('unverifiable');
  return bytes;
}

/** Parses a base64url JSON object segment (strict UTF-8); throws {@link JwtError} unless it is a plain object. */
export function decodeJsonSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fromBase64url(segment)));
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new JwtError('unverifiable');
  return value as Record<string, unknown>;
}

/** Signs a compact ES256 JWS (Web Crypto's ECDSA signature is already the JWS r||s form). */
export async function signEs256(key: CryptoKey, header: object, payload: object): Promise<string> {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

/** The RFC 7638 thumbprint (SHA-256, base64url) of a P-256 public key. */
export async function ecThumbprint(jwk: JsonWebKey): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(canonical)));
}

/**
 * Verifies a compact JWS JWT with the key `resolveKey` returns for its header,
 * then its claims (see {@link JwtChecks}). Throws {@link JwtError}; errors of
 * `resolveKey` pass through.
 */
export async function verifyJwt(
  token: string,
  resolveKey: (header: JwsHeader) => Promise<CryptoKey>,
  checks: JwtChecks,
): Promise<JWTPayload> {
  const segments = token.split('.');
  if (segments.length !== 3) throw new JwtError('unverifiable');
  const [encodedHeader, encodedPayload, encodedSignature] = segments as [string, string, string];
  const header: JwsHeader = decodeJsonSegment(encodedHeader);
  // jose's rule: only the `b64` extension is understood, and a JWT must keep its payload encoded.
  const { crit } = header;
  if (
    crit !== undefined &&
    !(Array.isArray(crit) && crit.length > 0 && crit.every((p) => p === 'b64') && header.b64 === true)
  )
    throw new JwtError('unverifiable');
  const { alg } = header;
  if (typeof alg !== 'string' || !checks.algorithms.includes(alg) || !algorithmParams(alg))
    throw new JwtError('unverifiable');
  const key = await resolveKey(header);
  const signature = fromBase64url(encodedSignature);
  const { modulusLength } = key.algorithm as { modulusLength?: number };
  if (/^[RP]S/.test(alg) && !(modulusLength! >= 2048)) throw new JwtError('unverifiable');
  let valid = false;
  try {
    valid = await crypto.subtle.verify(
      algorithmParams(alg)![1],
      key,
      signature,
      encoder.encode(`${encodedHeader}.${encodedPayload}`),
    );
  } catch {
    valid = false;
  }
  if (!valid) throw new JwtError('bad_signature');
  const payload = decodeJsonSegment(encodedPayload) as JWTPayload;
  checkClaims(payload, checks);
  return payload;
}

/** The claim checks, in jose's order (the first failure names its claim). */
function checkClaims(payload: JWTPayload, checks: JwtChecks): void {
  for (const claim of new Set(['iss', 'aud', ...[...(checks.requiredClaims ?? [])].reverse()]))
    if (!Object.hasOwn(payload, claim)) throw new JwtError(`invalid_${claim}`);
  if (payload.iss !== checks.issuer) throw new JwtError('invalid_iss');
  const { aud } = payload;
  if (!(aud === checks.audience || (Array.isArray(aud) && aud.includes(checks.audience))))
    throw new JwtError('invalid_aud');
  const now = nowSeconds();
  const tolerance = checks.clockTolerance;
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const value = payload[claim];
    if (value === undefined) continue;
    if (typeof value !== 'number') throw new JwtError(`invalid_${claim}`);
    if (claim === 'nbf' && value > now + tolerance) throw new JwtError('invalid_nbf');
    if (claim === 'exp' && value <= now - tolerance) throw new JwtError('expired');
  }
}
