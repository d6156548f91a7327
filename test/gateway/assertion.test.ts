/**
 * The signed identity assertion (issue #4): `X-Kenni-Assertion` is a
 * short-lived ES256 JWT from `EDGE_SIGNING_KEY` (`iss` the edge, `aud` the
 * origin) that an origin verifies with the public keys at `/auth/jwks.json`.
 * Rotation publishes every key and signs with the first; without a key there
 * is no assertion and an empty key set.
 */
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { accessToken, NAVIGATION, SAME_ORIGIN_FETCH, setUpGateway, signIn, type GatewaySetup } from './helpers.ts';

const THORDUR = { name: 'Þórður Ævarsson', national_id: '0101302989' };

declare module 'vitest' {
  export interface ProvidedContext {
    /** The demo origin (dev/demo-origin.ts) the global setup runs. */
    demoOriginUrl: string;
    /** The tests' EDGE_SIGNING_KEY (private JWK, JSON). */
    edgeSigningKey: string;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

async function edgeJwks(edge: TestEdge): Promise<JSONWebKeySet> {
  const response = await edge.fetch('/auth/jwks.json', { jar: false });
  expect(response.status).toBe(200);
  return (await response.json()) as JSONWebKeySet;
}

/** Signs in and sends one page request; returns the assertion the origin received. */
async function assertionForPage(
  setup: GatewaySetup,
  claims: Record<string, unknown> = THORDUR,
): Promise<{ assertion: string | undefined; sub: string }> {
  const { sub } = await signIn(setup, { claims });
  await setup.routeOrigin('GET', '/account', { status: 200 });
  const response = await setup.edge.fetch('/account', { headers: NAVIGATION });
  expect(response.status).toBe(200);
  const requests = await setup.originRequests();
  return { assertion: requests.at(-1)!.headers['x-kenni-assertion'], sub };
}

/** A new ES256 key pair as JWKs (private with `d`, public without). */
async function newEdgeKey(kid?: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const extra = kid ? { kid } : {};
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...extra },
    publicJwk: { ...(await exportJWK(publicKey)), ...extra },
  };
}

describe('X-Kenni-Assertion', () => {
  it("verifies against /auth/jwks.json: ES256, iss the edge, aud the origin, the user's sub, name and national_id, at most 60 s long", async () => {
    const setup = await setUpGateway();
    const { assertion, sub } = await assertionForPage(setup);
    expect(assertion).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    const originAudience = new URL(setup.originUrl).origin;

    const { payload, protectedHeader } = await jwtVerify(assertion!, createLocalJWKSet(await edgeJwks(setup.edge)), {
      algorithms: ['ES256'],
      issuer: EDGE_ORIGIN,
      audience: originAudience,
    });

    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: 'edge-test-1' });
    expect(payload).toMatchObject({
      iss: EDGE_ORIGIN,
      aud: originAudience,
      sub,
      name: 'Þórður Ævarsson',
      national_id: '0101302989',
      auth: 'session',
    });
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    expect(payload.iat!).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
  });

  it('does not verify once tampered with (one character of the payload changed), nor for another audience', async () => {
    const setup = await setUpGateway();
    const { assertion } = await assertionForPage(setup);
    const keys = createLocalJWKSet(await edgeJwks(setup.edge));
    const [header, payload, signature] = assertion!.split('.') as [string, string, string];
    const at = Math.floor(payload.length / 2);
    const tampered = `${header}.${payload.slice(0, at)}${payload[at] === 'A' ? 'B' : 'A'}${payload.slice(at + 1)}.${signature}`;
    expect(tampered).not.toBe(assertion);

    await expect(jwtVerify(tampered, keys, { algorithms: ['ES256'] })).rejects.toThrow(
      errors.JWSSignatureVerificationFailed,
    );
    await expect(
      jwtVerify(assertion!, keys, {
        algorithms: ['ES256'],
        issuer: EDGE_ORIGIN,
        audience: 'https://another-origin.example',
      }),
    ).rejects.toThrow(errors.JWTClaimValidationFailed);
  });

  it("names the session's user without national_id or name when the session has none", async () => {
    const setup = await setUpGateway();
    const { assertion, sub } = await assertionForPage(setup, { national_id: undefined, name: undefined });

    const { payload } = await jwtVerify(assertion!, createLocalJWKSet(await edgeJwks(setup.edge)), {
      issuer: EDGE_ORIGIN,
    });

    expect(payload.sub).toBe(sub);
    expect(payload).not.toHaveProperty('national_id');
    expect(payload).not.toHaveProperty('name');
  });

  it('speaks for a bearer caller with auth "bearer" and the granted scope', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/api/orders', { json: [] });
    const token = await accessToken(setup, { sub: 'service-7' });

    await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });

    const [request] = await setup.originRequests();
    const { payload } = await jwtVerify(
      request!.headers['x-kenni-assertion']!,
      createLocalJWKSet(await edgeJwks(setup.edge)),
      { issuer: EDGE_ORIGIN, audience: new URL(setup.originUrl).origin },
    );
    expect(payload).toMatchObject({ sub: 'service-7', auth: 'bearer', scope: '@dev-team.is/api.read' });
  });

  it('is never stale when it reaches the origin: still valid with at least 30 s left, and fresh after a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const setup = await setUpGateway();
    await signIn(setup, { claims: THORDUR });
    await setup.routeOrigin('GET', '/api/me', { json: {} });
    const keys = createLocalJWKSet(await edgeJwks(setup.edge));
    const start = Date.now();

    const seen: Array<{ at: number; iat: number; exp: number }> = [];
    for (const offsetSeconds of [0, 20, 35, 61, 130]) {
      vi.setSystemTime(start + offsetSeconds * 1000);
      const response = await setup.edge.fetch('/api/me', { headers: SAME_ORIGIN_FETCH });
      expect(response.status).toBe(200);
      const requests = await setup.originRequests();
      // jwtVerify checks exp against the (faked) current time.
      const { payload } = await jwtVerify(requests.at(-1)!.headers['x-kenni-assertion']!, keys, {
        issuer: EDGE_ORIGIN,
      });
      seen.push({ at: Math.floor(Date.now() / 1000), iat: payload.iat!, exp: payload.exp! });
    }
    for (const { at, iat, exp } of seen) {
      expect(exp - at).toBeGreaterThanOrEqual(30);
      expect(exp - iat).toBeLessThanOrEqual(60);
      expect(iat).toBeLessThanOrEqual(at);
    }
  });

  it('is not sent on public paths', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    await setup.routeOrigin('GET', '/public/x', { status: 200 });

    await setup.edge.fetch('/public/x', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-assertion']).toBeUndefined();
  });
});

describe('GET /auth/jwks.json', () => {
  it('publishes only the public members of EDGE_SIGNING_KEY: EC P-256, alg ES256, use sig, a kid, no "d", as application/jwk-set+json', async () => {
    const setup = await setUpGateway();

    const response = await setup.edge.fetch('/auth/jwks.json');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    const text = await response.text();
    const jwks = JSON.parse(text) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(Object.keys(key!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: 'edge-test-1' });
    expect(key).not.toHaveProperty('d');
    const configured = JSON.parse(String(setup.edge.env.EDGE_SIGNING_KEY)) as JWK;
    expect(text).not.toContain(configured.d!);
    expect(key!.x).toBe(configured.x);
    // It is a usable public key.
    await expect(importJWK(key as JWK, 'ES256')).resolves.toMatchObject({
      type: 'public',
      algorithm: { name: 'ECDSA', namedCurve: 'P-256' },
    });
  });

  it('publishes every key of {"keys":[new private, old public]} while the new one signs', async () => {
    const fresh = await newEdgeKey('edge-2026-11');
    const old = await newEdgeKey('edge-2026-05');
    const setup = await setUpGateway({
      edge: { EDGE_SIGNING_KEY: JSON.stringify({ keys: [fresh.privateJwk, old.publicJwk] }) },
    });

    const jwks = await edgeJwks(setup.edge);
    const { assertion } = await assertionForPage(setup);

    expect(jwks.keys.map((key) => key.kid)).toEqual(['edge-2026-11', 'edge-2026-05']);
    for (const key of jwks.keys) {
      expect(key).not.toHaveProperty('d');
      expect(key).toMatchObject({ alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' });
    }
    expect(decodeProtectedHeader(assertion!).kid).toBe('edge-2026-11');
    await expect(jwtVerify(assertion!, await importJWK(fresh.publicJwk, 'ES256'))).resolves.toMatchObject({
      protectedHeader: { alg: 'ES256', kid: 'edge-2026-11' },
    });
    await expect(jwtVerify(assertion!, await importJWK(old.publicJwk, 'ES256'))).rejects.toThrow(
      errors.JWSSignatureVerificationFailed,
    );
    await expect(jwtVerify(assertion!, createLocalJWKSet(jwks), { issuer: EDGE_ORIGIN })).resolves.toMatchObject({
      payload: { iss: EDGE_ORIGIN },
      protectedHeader: { kid: 'edge-2026-11' },
    });
  });

  it('names a key without its own kid by its RFC 7638 thumbprint, in the key set and in the assertion', async () => {
    const key = await newEdgeKey();
    const setup = await setUpGateway({ edge: { EDGE_SIGNING_KEY: JSON.stringify(key.privateJwk) } });
    const thumbprint = await calculateJwkThumbprint(key.publicJwk);

    const jwks = await edgeJwks(setup.edge);
    const { assertion } = await assertionForPage(setup);

    expect(jwks.keys.map((published) => published.kid)).toEqual([thumbprint]);
    expect(decodeProtectedHeader(assertion!).kid).toBe(thumbprint);
    await expect(jwtVerify(assertion!, createLocalJWKSet(jwks))).resolves.toMatchObject({
      payload: { iss: EDGE_ORIGIN },
      protectedHeader: { alg: 'ES256', kid: thumbprint },
    });
  });

  it('without EDGE_SIGNING_KEY: an empty key set and no assertion, while the other identity headers still arrive', async () => {
    const setup = await setUpGateway({ edge: { EDGE_SIGNING_KEY: undefined } });

    const response = await setup.edge.fetch('/auth/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    expect(await response.json()).toEqual({ keys: [] });

    const { assertion, sub } = await assertionForPage(setup);
    expect(assertion).toBeUndefined();
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toBe(sub);
    expect(decodeURIComponent(request!.headers['x-kenni-name']!)).toBe('Þórður Ævarsson');
  });
});

/**
 * The demo origin (dev/demo-origin.ts) is the example users copy: it trusts
 * an identity only from an assertion signed by the edge's key (ES256) with
 * `iss` exactly the edge's origin, `aud` exactly its own origin, and `sub`,
 * `iat` and `exp` present. The global setup runs it with the test edge key's
 * JWKS and `https://edge.test` as the edge.
 */
describe('the demo origin', () => {
  const demoOrigin = inject('demoOriginUrl');

  /** Signs an assertion with the real test edge key (EDGE_SIGNING_KEY of the tests). */
  async function signAssertion(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const key = JSON.parse(inject('edgeSigningKey')) as JWK;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: EDGE_ORIGIN,
      aud: new URL(demoOrigin).origin,
      sub: 'dev-user-thordur',
      iat: now,
      exp: now + 60,
      auth: 'session',
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid, ...header })
      .sign(await importJWK(key, 'ES256'));
  }

  async function whoami(headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${demoOrigin}/api/whoami`, { headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("accepts the edge's own assertion, and takes the identity from its claims", async () => {
    const { status, body } = await whoami({
      'x-kenni-assertion': await signAssertion({ name: 'Þórður Ævarsson', national_id: '0101302989' }),
      'x-kenni-sub': 'dev-user-thordur',
    });

    expect(status).toBe(200);
    expect(body).toMatchObject({
      sub: 'dev-user-thordur',
      name: 'Þórður Ævarsson',
      national_id: '0101302989',
      assertion: { present: true, verified: true },
    });
  });

  it('accepts an assertion the edge signed for a real request through the gateway', async () => {
    const setup = await setUpGateway({ edge: { ORIGIN_URL: demoOrigin } });
    const { sub } = await signIn(setup, { claims: THORDUR });

    const response = await setup.edge.fetch('/api/whoami', { headers: SAME_ORIGIN_FETCH });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      sub,
      name: THORDUR.name,
      national_id: THORDUR.national_id,
      assertion: { present: true, verified: true },
    });
  });

  it.each([
    ['another issuer', { iss: 'https://evil.test' }],
    ['the edge origin with a trailing slash', { iss: 'https://edge.test/' }],
    ['the edge origin on another port', { iss: 'https://edge.test:8443' }],
    ['another audience', { aud: 'https://another-origin.example' }],
    ['the demo origin with a path', { aud: `${new URL(demoOrigin).origin}/api` }],
    ['no sub', { sub: undefined }],
    ['no exp', { exp: undefined }],
    ['no iat', { iat: undefined }],
    ['an expired one', { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }],
  ])('refuses an assertion with %s (401, no identity)', async (_label, claims) => {
    const { status, body } = await whoami({
      'x-kenni-assertion': await signAssertion(claims),
      'x-kenni-sub': 'dev-user-thordur',
    });

    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'assertion_invalid', assertion: { present: true, verified: false } });
    expect(body.sub).toBeUndefined();
  });

  it('refuses identity headers without an assertion (401, no identity)', async () => {
    const { status, body } = await whoami({ 'x-kenni-sub': 'dev-user-thordur', 'x-kenni-national-id': '0101302989' });

    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'assertion_missing', assertion: { present: false } });
    expect(body.sub).toBeUndefined();
    expect(body.national_id).toBeUndefined();
  });
});
