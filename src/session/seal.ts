/**
 * Sealing with AES-256-GCM (and MACs with HMAC-SHA256) under keys derived from
 * `SESSION_SECRET` with HKDF, one key per purpose, so a sealed login
 * transaction can never be replayed as sealed tokens and vice versa.
 * @see https://www.rfc-editor.org/rfc/rfc5869
 */

/** What a sealing key is used for; each purpose gets its own HKDF-derived key. */
export type SealPurpose = 'login-transaction' | 'session-tokens' | 'session-record' | 'm2m-token' | 'introspection';

const keyCache = new Map<string, Promise<CryptoKey>>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Derives `SESSION_SECRET`'s HKDF-SHA256 key (salt `kenni-edge`) for the `info`
 * label, cached per isolate under `cacheKey`.
 */
function deriveCached(
  cacheKey: string,
  secret: string,
  info: string,
  algorithm: Parameters<SubtleCrypto['deriveKey']>[2],
  usages: string[],
): Promise<CryptoKey> {
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode('kenni-edge'), info: encoder.encode(info) },
        material,
        algorithm,
        false,
        usages,
      );
    })();
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** Derives (and caches per isolate) the AES-GCM key for one purpose. */
export function deriveSealKey(secret: string, purpose: SealPurpose): Promise<CryptoKey> {
  return deriveCached(
    `${purpose}\u0000${secret}`,
    secret,
    `kenni-edge ${purpose} v1`,
    { name: 'AES-GCM', length: 256 },
    ['encrypt', 'decrypt'],
  );
}

/** What an HMAC key is used for; each purpose gets its own HKDF-derived key. */
export type MacPurpose = 'edge-cache' | 'national-id-index' | 'session-handle';

/**
 * Derives (and caches per isolate) the HMAC-SHA256 key for one purpose, under
 * an HKDF info label of its own, so it is independent of every sealing key.
 * @see https://www.rfc-editor.org/rfc/rfc2104
 */
export function deriveMacKey(secret: string, purpose: MacPurpose): Promise<CryptoKey> {
  return deriveCached(
    `mac\u0000${purpose}\u0000${secret}`,
    secret,
    `kenni-edge ${purpose} hmac-sha256 v1`,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    ['sign', 'verify'],
  );
}

/**
 * Seals a JSON value: base64url(iv ‖ ciphertext ‖ tag). `context` is bound as
 * additional authenticated data, so a sealed value only opens where it belongs.
 */
export async function seal(key: CryptoKey, value: unknown, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(context) },
      key,
      encoder.encode(JSON.stringify(value)),
    ),
  );
  const out = new Uint8Array(iv.length + ciphertext.length);
  out.set(iv);
  out.set(ciphertext, iv.length);
  return base64UrlEncode(out);
}

/** Opens a sealed value; `undefined` when it was tampered with, sealed for another context, or is not ours. */
export async function unseal<T>(key: CryptoKey, sealed: string, context: string): Promise<T | undefined> {
  const bytes = base64UrlDecode(sealed);
  if (!bytes || bytes.length < 12 + 16) return undefined;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: encoder.encode(context) },
      key,
      bytes.subarray(12),
    );
    return JSON.parse(decoder.decode(plaintext)) as T;
  } catch {
    return undefined;
  }
}

/**
 * The secrets a sealed value may have been sealed under: `SESSION_SECRET`, which
 * seals everything, and `SESSION_SECRET_PREVIOUS`, which only opens (rotation).
 */
export interface SealSecrets {
  readonly sessionSecret: string;
  readonly previousSessionSecrets: readonly string[];
}

/**
 * Opens a value sealed for `purpose` under the current secret or, failing that,
 * under each previous one in order: the current key is tried first, so a
 * rotation costs nothing once values are re-sealed, and every derived key is
 * cached per isolate. `undefined` when no secret opens it.
 */
export async function unsealWithSecrets<T>(
  secrets: SealSecrets,
  purpose: SealPurpose,
  sealed: string,
  context: string,
): Promise<T | undefined> {
  const current = await unseal<T>(await deriveSealKey(secrets.sessionSecret, purpose), sealed, context);
  if (current !== undefined) return current;
  for (const previous of secrets.previousSessionSecrets) {
    const value = await unseal<T>(await deriveSealKey(previous, purpose), sealed, context);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** base64url without padding. */
export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url (no padding); `undefined` for anything else. */
export function base64UrlDecode(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

/** Lower-case hex SHA-256 of a string. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** Lower-case hex of a digest or MAC. */
export function toHex(bytes: ArrayBuffer): string {
  let hex = '';
  for (const byte of new Uint8Array(bytes)) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** A fresh random identifier of `byteLength` bytes (default 32 = 256 bits), base64url. */
export function randomId(byteLength = 32): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/** Compares two strings in time independent of where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  let diff = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}
