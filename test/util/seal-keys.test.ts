/**
 * The keys `seal.ts` derives from `SESSION_SECRET` stay what they were: values
 * sealed and MACs written before a deploy must still open and verify after it.
 * Each key is derived here again, independently, from the documented HKDF
 * parameters (SHA-256, salt `kenni-edge`, one info label per purpose).
 * @see https://www.rfc-editor.org/rfc/rfc5869
 */
import { describe, expect, it } from 'vitest';
import { base64UrlDecode, deriveMacKey, deriveSealKey, seal, unseal } from '../../src/session/seal.ts';

const SECRET = 'a-session-secret-of-at-least-32-characters';
const encoder = new TextEncoder();

/** The HKDF-SHA256 key for `info`, derived without seal.ts. */
async function independentKey(
  info: string,
  algorithm: Parameters<SubtleCrypto['deriveKey']>[2],
  usages: string[],
): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(SECRET), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode('kenni-edge'), info: encoder.encode(info) },
    material,
    algorithm,
    false,
    usages,
  );
}

describe('keys derived from SESSION_SECRET', () => {
  it.each(['login-transaction', 'session-tokens', 'session-record', 'm2m-token'] as const)(
    'seals %s under HKDF info "kenni-edge <purpose> v1"',
    async (purpose) => {
      const sealed = await seal(await deriveSealKey(SECRET, purpose), { n: 1 }, 'ctx');
      const bytes = base64UrlDecode(sealed)!;
      const key = await independentKey(`kenni-edge ${purpose} v1`, { name: 'AES-GCM', length: 256 }, ['decrypt']);
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.slice(0, 12), additionalData: encoder.encode('ctx') },
        key,
        bytes.slice(12),
      );
      expect(new TextDecoder().decode(plain)).toBe('{"n":1}');
    },
  );

  it('gives each purpose its own key', async () => {
    const sealed = await seal(await deriveSealKey(SECRET, 'login-transaction'), { n: 1 }, 'ctx');
    expect(await unseal(await deriveSealKey(SECRET, 'session-tokens'), sealed, 'ctx')).toBeUndefined();
    expect(await unseal(await deriveSealKey(SECRET, 'login-transaction'), sealed, 'ctx')).toEqual({ n: 1 });
  });

  it('MACs edge-cache under HKDF info "kenni-edge edge-cache hmac-sha256 v1"', async () => {
    const data = encoder.encode('entry');
    const ours = await crypto.subtle.sign('HMAC', await deriveMacKey(SECRET, 'edge-cache'), data);
    const key = await independentKey(
      'kenni-edge edge-cache hmac-sha256 v1',
      { name: 'HMAC', hash: 'SHA-256', length: 256 },
      ['verify'],
    );
    expect(await crypto.subtle.verify('HMAC', key, ours, data)).toBe(true);
  });
});
