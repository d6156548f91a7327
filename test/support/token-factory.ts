/**
 * Test keys and tokens, good and hostile, for tests running inside workerd.
 *
 * Web Crypto and `jose` only. Claim times come from `Date.now()`, so
 * `vi.setSystemTime()` controls them.
 */
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK } from 'jose';

/** The signature algorithms test keys can be made for. */
export type TestKeyAlg = 'RS256' | 'ES256' | 'PS256' | 'EdDSA';

/**
 * A key pair for signing test tokens, with its public half as a JWK ready to
 * be served in a JWKS.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 */
export interface TestKey {
  /** Key id, also set as `kid` on `publicJwk` and on tokens from {@link signJwt}. */
  kid: string;
  /** The JWS algorithm this key signs with. */
  alg: TestKeyAlg;
  /** The private key (extractable). */
  privateKey: CryptoKey;
  /** The public key. */
  publicKey: CryptoKey;
  /** The public JWK with `kid`, `alg` and `use: "sig"`. */
  publicJwk: JWK;
}

/** JWT claims: any JSON object. */
export type Claims = Record<string, unknown>;

/**
 * JOSE header overrides for {@link signJwt}. A key set to `undefined` is
 * removed (e.g. `{ kid: undefined }` for a token without `kid`).
 */
export type HeaderOverrides = Record<string, unknown>;

/** The subject used when a test does not name one. */
export const TEST_SUBJECT = '5c7b1f0e-3a1d-4b8e-9f2a-6d0c4e8b1a27';
/** A made-up Icelandic national id (kennitala) for the default test user. */
export const TEST_NATIONAL_ID = '0101302989';
/** The default test user's name (non-ASCII on purpose). */
export const TEST_NAME = 'Jón Þórsson Ægisdóttir';

/**
 * Generates a fresh extractable key pair for `alg` (RSA keys are 2048 bits,
 * EdDSA is Ed25519).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 */
export async function generateTestKey(alg: TestKeyAlg, kid: string = randomId('key-')): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

/**
 * Signs `claims` as a compact JWS with `key`. The header defaults to
 * `{ alg: key.alg, kid: key.kid }`; `header` overrides or removes (with
 * `undefined`) any of it, e.g. `typ`, `crit`, `jku`, `jwk`, `x5u` or no `kid`.
 *
 * Signed with jose's `SignJWT` where jose accepts the header; headers jose
 * refuses to produce (an `alg` that lies about the key, a malformed or
 * unsatisfiable `crit`) are signed directly with Web Crypto using the key's
 * real algorithm, so the signature is still valid for `key`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.1
 */
export async function signJwt(key: TestKey, claims: Claims, header: HeaderOverrides = {}): Promise<string> {
  const protectedHeader = withoutUndefined({ alg: key.alg, kid: key.kid, ...header });
  try {
    const crit = Array.isArray(protectedHeader.crit)
      ? Object.fromEntries(
          protectedHeader.crit.filter((name): name is string => typeof name === 'string').map((name) => [name, true]),
        )
      : undefined;
    return await new SignJWT(claims)
      .setProtectedHeader(protectedHeader as Parameters<SignJWT['setProtectedHeader']>[0])
      .sign(key.privateKey, crit ? { crit } : undefined);
  } catch {
    return signCompact(key, protectedHeader, claims);
  }
}

/**
 * An unsecured JWT (`alg: "none"`): `header.payload.` with an empty signature.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-6
 */
export function unsecuredJwt(claims: Claims, header: HeaderOverrides = {}): string {
  const protectedHeader = withoutUndefined({ alg: 'none', ...header });
  return `${base64urlJson(protectedHeader)}.${base64urlJson(claims)}.`;
}

/** Which bytes of the public key {@link hs256WithPublicKey} uses as the HMAC secret. */
export type KeyConfusionSecret = 'jwk-json' | 'pem';

/**
 * The classic algorithm-confusion attack: an `HS256` token whose HMAC secret
 * is the provider's *public* key, as `JSON.stringify(publicJwk)` (default) or
 * its SPKI PEM. A verifier that lets the token choose the algorithm accepts it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8725#section-2.1
 */
export async function hs256WithPublicKey(
  publicJwk: JWK,
  claims: Claims,
  options: { secret?: KeyConfusionSecret; header?: HeaderOverrides } = {},
): Promise<string> {
  let secretText: string;
  if (options.secret === 'pem') {
    const alg = publicJwk.alg ?? (publicJwk.kty === 'EC' ? 'ES256' : publicJwk.kty === 'OKP' ? 'EdDSA' : 'RS256');
    const publicKey = await importJWK(publicJwk, alg, { extractable: true });
    if (publicKey instanceof Uint8Array) throw new TypeError('hs256WithPublicKey needs an asymmetric public JWK');
    secretText = await exportSPKI(publicKey);
  } else {
    secretText = JSON.stringify(publicJwk);
  }
  const protectedHeader = withoutUndefined({ alg: 'HS256', kid: publicJwk.kid, ...options.header });
  const hmacKey = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secretText),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const signingInput = `${base64urlJson(protectedHeader)}.${base64urlJson(claims)}`;
  const signature = await crypto.subtle.sign('HMAC', hmacKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}

/**
 * A token shaped like a compact JWE (five base64url segments with an
 * `RSA-OAEP-256`/`A256GCM` header and random contents): an encrypted token
 * where a signed one is expected.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7516#section-7.1
 */
export function jweShapedToken(header: HeaderOverrides = {}): string {
  const protectedHeader = withoutUndefined({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: randomId('key-'), ...header });
  return [
    base64urlJson(protectedHeader),
    base64url(randomBytes(256)), // encrypted key
    base64url(randomBytes(12)), // IV
    base64url(randomBytes(96)), // ciphertext
    base64url(randomBytes(16)), // authentication tag
  ].join('.');
}

/** Options for {@link randomGarbageTokens}. */
export interface GarbageOptions {
  /** Seed for a reproducible list; random by default. */
  seed?: number;
  /** Well-formed tokens to truncate and corrupt; by default a structurally valid RS256 JWT is made up. */
  validTokens?: string[];
  /**
   * Which characters beyond base64url may appear:
   * - `'ascii'`: printable ASCII only;
   * - `'unicode'` (default): also non-ASCII text (Icelandic letters, emoji, an
   *   RTL override, a zero-width space, CJK). workerd still accepts these in a
   *   header value (sent as UTF-8, with a console warning per header);
   * - `'any'`: also NUL, CR/LF and a lone surrogate, which `Headers` refuses
   *   (or rewrites): for calling parsers directly.
   */
  charset?: 'ascii' | 'unicode' | 'any';
}

/**
 * `n` strings that are not valid tokens: random characters, base64url without
 * dots, truncated and segment-dropped copies of well-formed JWTs, bad base64,
 * flipped signatures, four segments, huge segments and non-ASCII text.
 * Every kind appears once `n` is at least 12; `seed` makes the list reproducible.
 */
export function randomGarbageTokens(n: number, options: GarbageOptions = {}): string[] {
  const next = mulberry32(options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!);
  const charset = options.charset ?? 'unicode';
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(values: readonly T[]): T => values[int(values.length)]!;
  const chars = (alphabet: string, length: number) =>
    Array.from({ length }, () => alphabet[int(alphabet.length)]).join('');
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const PRINTABLE = Array.from({ length: 94 }, (_, index) => String.fromCharCode(33 + index)).join('');
  const ICELANDIC = 'áéíóúýðþæöÁÉÍÓÚÝÐÞÆÖ';
  const UNICODE = ['😀', '\u202Eevil', '\u200B', 'ẞ', '漢字', 'ð', 'þ'];
  const HOSTILE = ['\u0000', '\r\n', '\uD800', '\n'];
  const SPECIAL = charset === 'any' ? [...UNICODE, ...HOSTILE] : UNICODE;
  const validTokens = options.validTokens?.length ? options.validTokens : [madeUpJwt(next)];

  const kinds: Array<() => string> = [
    () => chars(PRINTABLE, 1 + int(80)),
    () => chars(B64URL, 10 + int(400)),
    () => {
      const token = pick(validTokens);
      return token.slice(0, 1 + int(Math.max(1, token.length - 2)));
    },
    () => pick(validTokens).split('.').slice(0, 2).join('.'),
    () => `${pick(validTokens)}.`,
    () => {
      const [h = '', p = '', s = ''] = pick(validTokens).split('.');
      const bad = pick(['+', '/', '=', '!', '%', '*', ' ']);
      const at = int(p.length + 1);
      return `${h}.${p.slice(0, at)}${bad}${p.slice(at)}.${s}`;
    },
    () => {
      const [h = '', p = '', s = ''] = pick(validTokens).split('.');
      const at = int(Math.max(1, s.length));
      const flipped = s[at] === 'A' ? 'B' : 'A';
      return `${h}.${p}.${s.slice(0, at)}${flipped}${s.slice(at + 1)}`;
    },
    () => {
      const [h = ''] = pick(validTokens).split('.');
      return `${h}.${chars(B64URL, 16_384)}.${chars(B64URL, 342)}`;
    },
    () => `${chars(B64URL, 20)}.${chars(B64URL, 20)}.${chars(B64URL, 20)}.${chars(B64URL, 20)}`,
    () => pick(['', '.', '..', '...', 'null', 'undefined', '[object Object]', 'eyJ.eyJ.', 'Bearer', 'a.b.c']),
    () => {
      if (charset === 'ascii') return `${chars(B64URL, 8)}%C3%BE.${chars(B64URL, 8)}\\u00f0.${chars(B64URL, 8)}`;
      const text = chars(ICELANDIC, 4 + int(20));
      return `${text}${pick(SPECIAL)}.${pick(SPECIAL)}${text}.${pick(charset === 'any' ? HOSTILE : SPECIAL)}`;
    },
    () => {
      const [, p = '', s = ''] = pick(validTokens).split('.');
      const odd = charset === 'ascii' ? '~' : pick(['é', ...SPECIAL]);
      return `${base64urlJson({ alg: pick(['RS256', 'none', 'HS256', '']) }).slice(0, -2)}${odd}.${p}.${s}`;
    },
  ];
  return Array.from({ length: n }, (_, index) => kinds[index < kinds.length ? index : int(kinds.length)]!());
}

/** Options shared by the claim builders. A key set to `undefined` is removed. */
type ClaimOverrides = Record<string, unknown>;

/**
 * ID token claims for `clientId`: `iss`, `sub`, `aud`, `iat`, `exp` (one hour,
 * oidc-provider's default), `auth_time`, `nonce`, and Kenni's profile claims
 * `name` and `national_id`. `overrides` replace any claim; `undefined` removes it.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
export function makeIdTokenClaims(
  options: { issuer: string; clientId: string; nonce: string | undefined; sub?: string } & ClaimOverrides,
): Claims {
  const { issuer, clientId, nonce, sub, ...overrides } = options;
  const now = Math.floor(Date.now() / 1000);
  return withoutUndefined({
    iss: issuer,
    sub: sub ?? TEST_SUBJECT,
    aud: clientId,
    iat: now,
    exp: now + 3600,
    auth_time: now,
    nonce,
    name: TEST_NAME,
    national_id: TEST_NATIONAL_ID,
    ...overrides,
  });
}

/**
 * JWT access token claims (RFC 9068): `iss`, `sub`, `aud`, `iat`, `exp` (one
 * hour), `jti`, `client_id` and `scope` (an array is joined with spaces).
 * `client_id` defaults to `audience` without Kenni's `-api` suffix.
 * `overrides` replace any claim; `undefined` removes it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export function makeAccessTokenClaims(
  options: {
    issuer: string;
    audience: string | string[];
    scope: string | string[];
    sub?: string;
    clientId?: string;
  } & ClaimOverrides,
): Claims {
  const { issuer, audience, scope, sub, clientId, ...overrides } = options;
  const now = Math.floor(Date.now() / 1000);
  const firstAudience = Array.isArray(audience) ? (audience[0] ?? '') : audience;
  return withoutUndefined({
    iss: issuer,
    sub: sub ?? TEST_SUBJECT,
    aud: audience,
    iat: now,
    exp: now + 3600,
    jti: randomId('at-'),
    client_id: clientId ?? firstAudience.replace(/-api$/, ''),
    scope: Array.isArray(scope) ? scope.join(' ') : scope,
    ...overrides,
  });
}

/** Base64url (no padding) of bytes. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Base64url (no padding) of a value's JSON. */
export function base64urlJson(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined));
}

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

function randomId(prefix: string): string {
  return prefix + [...randomBytes(8)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

const SIGNING_PARAMETERS: Record<TestKeyAlg, { name: string; hash?: string; saltLength?: number }> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
};

/** Compact JWS signed with the key's real algorithm, whatever the header says. */
async function signCompact(key: TestKey, header: Record<string, unknown>, claims: Claims): Promise<string> {
  const signingInput = `${base64urlJson(header)}.${base64urlJson(claims)}`;
  const signature = await crypto.subtle.sign(
    SIGNING_PARAMETERS[key.alg],
    key.privateKey,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}

/** A structurally valid RS256 JWT with a random signature, for garbage to start from. */
function madeUpJwt(next: () => number): string {
  const bytes = (length: number) => Uint8Array.from({ length }, () => Math.floor(next() * 256));
  const header = base64urlJson({ alg: 'RS256', kid: 'garbage', typ: 'JWT' });
  const payload = base64urlJson({
    iss: 'https://idp.kenni.is/garbage.is',
    sub: 'garbage',
    aud: 'garbage',
    exp: 4102444800,
  });
  return `${header}.${payload}.${base64url(bytes(256))}`;
}

/** A small seeded PRNG, so a failing garbage list can be reproduced from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
