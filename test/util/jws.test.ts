/**
 * `src/util/jws.ts` replaced jose in the bundle: it must accept and refuse
 * exactly what jose's `jwtVerify` did with the options the edge used, and its
 * signatures and thumbprints must be what jose computes. jose stays a test
 * dependency: here it is the oracle.
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ecThumbprint, importJwk, JwtError, signEs256, verifyJwt, type JwtChecks } from '../../src/util/jws.ts';

const ISSUER = 'https://idp.example/team';
const AUDIENCE = 'api://orders';
const NOW = 1_800_000_000;
const CHECKS: JwtChecks = {
  algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'],
  issuer: ISSUER,
  audience: AUDIENCE,
  clockTolerance: 30,
  requiredClaims: ['exp', 'iss', 'aud'],
};

afterEach(() => {
  vi.useRealTimers();
});

interface Signer {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signer(alg: string, options: { modulusLength?: number } = {}): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

/** Signs `payload` with jose; `header` members override the default `{ alg }`. */
function sign(key: Signer, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, ...header } as { alg: string }).sign(key.privateKey);
}

/** Our verdict: the reason code, or `ok`. */
async function ours(token: string, key: Signer, checks: JwtChecks = CHECKS): Promise<string> {
  try {
    await verifyJwt(token, (header) => importJwk(key.publicJwk as JsonWebKey, header.alg!, 'verify'), checks);
    return 'ok';
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    return 'unverifiable'; // a key that does not import: jose failed these too
  }
}

/** jose's verdict with the options the edge used, in the same reason codes as access-token.ts gave them. */
async function jose(token: string, key: Signer, checks: JwtChecks = CHECKS): Promise<string> {
  try {
    await jwtVerify(token, (header) => importJWK({ ...key.publicJwk, alg: header.alg }, header.alg), {
      algorithms: [...checks.algorithms],
      issuer: checks.issuer,
      audience: checks.audience,
      clockTolerance: checks.clockTolerance,
      requiredClaims: checks.requiredClaims ? [...checks.requiredClaims] : undefined,
    });
    return 'ok';
  } catch (error) {
    const { code, claim } = error as { code?: string; claim?: string };
    if (code === 'ERR_JWT_EXPIRED') return 'expired';
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return `invalid_${claim}`;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'bad_signature';
    return 'unverifiable';
  }
}

const b64 = (bytes: Uint8Array | string): string =>
  btoa(typeof bytes === 'string' ? bytes : String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const utf8 = (text: string): string => String.fromCharCode(...new TextEncoder().encode(text));

/** An ES256 compact JWS of raw header and claims texts, signed with Web Crypto (jose refuses to sign some of these). */
async function rawEs256(key: Signer, header: string, claims: string): Promise<string> {
  const input = `${b64(utf8(header))}.${b64(utf8(claims))}`;
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64(new Uint8Array(signature))}`;
}

const base = (): JWTPayload => ({ iss: ISSUER, aud: AUDIENCE, sub: 'u1', iat: NOW, exp: NOW + 300 });

describe('verifyJwt agrees with jose', () => {
  it('on every signature algorithm the edge accepts, and refuses one outside the list', async () => {
    vi.useFakeTimers({ now: NOW * 1000 });
    for (const alg of ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA']) {
      const key = await signer(alg);
      const token = await sign(key, base());
      expect([alg, await ours(token, key)]).toEqual([alg, 'ok']);
      expect([alg, await jose(token, key)]).toEqual([alg, 'ok']);
      const narrow = { ...CHECKS, algorithms: ['RS384'] };
      expect([alg, await ours(token, key, narrow)]).toEqual([alg, 'unverifiable']);
    }
  });

  it('on claims, times, headers and signatures, case by case', async () => {
    vi.useFakeTimers({ now: NOW * 1000 });
    const key = await signer('ES256');
    const other = await signer('ES256');
    const claims = JSON.stringify(base());
    const cases: Array<[string, Promise<string>, string]> = [
      ['valid', sign(key, base()), 'ok'],
      ['aud array holding ours', sign(key, { ...base(), aud: ['x', AUDIENCE] }), 'ok'],
      ['aud array without ours', sign(key, { ...base(), aud: ['x', 'y'] }), 'invalid_aud'],
      ['other aud', sign(key, { ...base(), aud: 'api://other' }), 'invalid_aud'],
      ['other iss', sign(key, { ...base(), iss: 'https://evil.example' }), 'invalid_iss'],
      ['no iss', sign(key, { ...base(), iss: undefined }), 'invalid_iss'],
      ['no aud', sign(key, { ...base(), aud: undefined }), 'invalid_aud'],
      ['no exp', sign(key, { ...base(), exp: undefined }), 'invalid_exp'],
      ['no iss nor aud', sign(key, { ...base(), iss: undefined, aud: undefined }), 'invalid_iss'],
      ['exp a string', sign(key, { ...base(), exp: String(NOW + 300) } as never), 'invalid_exp'],
      ['iat a string', sign(key, { ...base(), iat: 'now' } as never), 'invalid_iat'],
      ['nbf a string', sign(key, { ...base(), nbf: 'now' } as never), 'invalid_nbf'],
      ['expired within leeway', sign(key, { ...base(), exp: NOW - 29 }), 'ok'],
      ['expired at the leeway', sign(key, { ...base(), exp: NOW - 30 }), 'expired'],
      ['nbf at the leeway', sign(key, { ...base(), nbf: NOW + 30 }), 'ok'],
      ['nbf past the leeway', sign(key, { ...base(), nbf: NOW + 31 }), 'invalid_nbf'],
      ['iat in the future (not checked here)', sign(key, { ...base(), iat: NOW + 3600 }), 'ok'],
      ['signed by another key', sign(other, base()), 'bad_signature'],
      ['crit b64 true', rawEs256(key, '{"alg":"ES256","crit":["b64"],"b64":true}', claims), 'ok'],
      ['crit b64 false', rawEs256(key, '{"alg":"ES256","crit":["b64"],"b64":false}', claims), 'unverifiable'],
      ['crit unknown', rawEs256(key, '{"alg":"ES256","crit":["exp"],"exp":1}', claims), 'unverifiable'],
      ['crit empty', rawEs256(key, '{"alg":"ES256","crit":[]}', claims), 'unverifiable'],
      ['crit not an array', rawEs256(key, '{"alg":"ES256","crit":"b64","b64":true}', claims), 'unverifiable'],
      ['crit b64 without b64', rawEs256(key, '{"alg":"ES256","crit":["b64"]}', claims), 'unverifiable'],
      ['alg missing', rawEs256(key, '{"typ":"JWT"}', claims), 'unverifiable'],
      ['alg none', rawEs256(key, '{"alg":"none"}', claims), 'unverifiable'],
      ['claims an array', rawEs256(key, '{"alg":"ES256"}', '[1]'), 'unverifiable'],
      ['claims a string', rawEs256(key, '{"alg":"ES256"}', '"x"'), 'unverifiable'],
      ['claims null', rawEs256(key, '{"alg":"ES256"}', 'null'), 'unverifiable'],
      ['claims not JSON', rawEs256(key, '{"alg":"ES256"}', '{bad'), 'unverifiable'],
      ['header not JSON', rawEs256(key, '{alg', claims), 'unverifiable'],
    ];
    for (const [name, tokenPromise, expected] of cases) {
      const token = await tokenPromise;
      expect([name, await ours(token, key)]).toEqual([name, expected]);
      expect([name, await jose(token, key)]).toEqual([name, expected]);
    }
  });

  it('on malformed tokens: wrong segment counts, bad base64url, a non-object header, alg none, a cut signature', async () => {
    vi.useFakeTimers({ now: NOW * 1000 });
    const key = await signer('ES256');
    const good = await sign(key, base());
    const [h, p, s] = good.split('.') as [string, string, string];
    const malformed = [
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p}.${s}!`,
      `${h}.${p}.${s.slice(0, -4)}`,
      `${b64('[1]')}.${p}.${s}`,
      `${b64('"ES256"')}.${p}.${s}`,
      `${b64('{"alg":"none"}')}.${p}.`,
      `${h}!.${p}.${s}`,
      '..',
      '',
    ];
    for (const token of malformed) {
      expect([token, await ours(token, key)]).toEqual([token, await jose(token, key)]);
      expect(await ours(token, key)).not.toBe('ok');
    }
  });

  it('refuses an RSA key under 2048 bits, as jose does', async () => {
    vi.useFakeTimers({ now: NOW * 1000 });
    const weak = await signer('RS256', { modulusLength: 1024 }).catch(async () => {
      // jose refuses to generate one: make it with Web Crypto.
      const pair = (await crypto.subtle.generateKey(
        { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        true,
        ['sign', 'verify'],
      )) as CryptoKeyPair;
      return { alg: 'RS256', privateKey: pair.privateKey, publicJwk: (await exportJWK(pair.publicKey)) as JWK };
    });
    const input = `${b64('{"alg":"RS256"}')}.${b64(utf8(JSON.stringify(base())))}`;
    const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', weak.privateKey, new TextEncoder().encode(input));
    const token = `${input}.${b64(new Uint8Array(signature))}`;
    expect(await jose(token, weak)).toBe('unverifiable');
    expect(await ours(token, weak)).toBe('unverifiable');
  });
});

describe('signEs256 and ecThumbprint', () => {
  it('sign a JWT jose verifies, with the header and claims given, and name a key as jose does (RFC 7638)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const key = await importJwk({ ...privateJwk, alg: 'ES256', use: 'sig' } as JsonWebKey, 'ES256', 'sign');
    const token = await signEs256(
      key,
      { alg: 'ES256', typ: 'JWT', kid: 'k1' },
      { name: 'Þórður', iss: ISSUER, aud: AUDIENCE, sub: 'u1', iat: NOW, exp: NOW + 60 },
    );
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, {
      algorithms: ['ES256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: new Date(NOW * 1000),
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'k1' });
    expect(payload).toEqual({ name: 'Þórður', iss: ISSUER, aud: AUDIENCE, sub: 'u1', iat: NOW, exp: NOW + 60 });
    expect(await ecThumbprint(privateJwk as JsonWebKey)).toBe(await calculateJwkThumbprint(await exportJWK(publicKey)));
  });
});
