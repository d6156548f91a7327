/**
 * Bearer JWT verification at the edge (issue #3), through both ways in:
 * `GET /auth/verify` (forward auth) and an `API_PATHS` route of the gateway.
 * Every rule of RFC 9068 / RFC 8725 the edge enforces: algorithms, keys,
 * `iss`, `aud`, `exp`/`nbf` with the 30 s leeway, token types, JWE, `crit`,
 * and that garbage never makes the edge answer 5xx.
 */
import { describe, expect, it, vi } from 'vitest';
import { API_SCOPE, AUDIENCE, CLIENT_ID, freezeDateEachTest, NOW, RESOURCE_METADATA_PARAM } from '../support/bearer.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { testEvents } from '../support/log-capture.ts';
import { createScriptedProvider, type ScriptedProvider } from '../support/scripted-provider.ts';
import {
  generateTestKey,
  hs256WithPublicKey,
  jweShapedToken,
  makeAccessTokenClaims,
  makeIdTokenClaims,
  randomGarbageTokens,
  signJwt,
  TEST_SUBJECT,
  unsecuredJwt,
  type Claims,
  type HeaderOverrides,
  type TestKey,
  type TestKeyAlg,
} from '../support/token-factory.ts';

/** The configured leeway (`CLOCK_TOLERANCE` default). */
const LEEWAY_SECONDS = 30;

interface Setup {
  provider: ScriptedProvider;
  key: TestKey;
  edge: TestEdge;
  /** Access token claims for this tenant; `overrides` replace (`undefined` removes). */
  claims(overrides?: Claims): Claims;
  /** A valid access token signed by `key` (or `signer`), with claim and header overrides. */
  token(overrides?: Claims, header?: HeaderOverrides, signer?: TestKey): Promise<string>;
}

/** A scripted provider advertising `algorithms`, a JWKS with `keys` (default one RS256 key), an edge pointed at it, and an origin route. */
async function setUp(options: { algorithms?: string[]; keys?: TestKey[] } = {}): Promise<Setup> {
  const provider = await createScriptedProvider();
  await provider.serveDiscovery(
    options.algorithms ? { id_token_signing_alg_values_supported: options.algorithms } : {},
  );
  const keys = options.keys ?? [await generateTestKey('RS256')];
  await provider.serveJwks(keys);
  await provider.route('GET', '/origin/api/orders', { json: { orders: [] } });
  const edge = createTestEdge({
    KENNI_ISSUER: provider.issuer,
    KENNI_CLIENT_ID: CLIENT_ID,
    KENNI_API_SCOPE: API_SCOPE,
    ORIGIN_URL: provider.url('/origin'),
  });
  const claims = (overrides: Claims = {}) =>
    makeAccessTokenClaims({ issuer: provider.issuer, audience: AUDIENCE, scope: ['openid', API_SCOPE], ...overrides });
  const key = keys[0]!;
  return {
    provider,
    key,
    edge,
    claims,
    token: (overrides, header, signer) => signJwt(signer ?? key, claims(overrides), header),
  };
}

/** The two ways a bearer token reaches the edge. */
interface Surface {
  name: string;
  send(edge: TestEdge, token: string): Promise<Response>;
  /** Asserts the answer to an accepted token with `claims`. */
  expectAccepted(setup: Setup, response: Response, claims: Claims): Promise<void>;
}

const verifyRoute: Surface = {
  name: 'GET /auth/verify',
  send: (edge, token) => edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` } }),
  async expectAccepted(_setup, response, claims) {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-kenni-sub')).toBe(String(claims.sub));
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({ claims });
  },
};

const apiRoute: Surface = {
  name: 'an API_PATHS route',
  send: (edge, token) =>
    edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }),
  async expectAccepted(setup, response, claims) {
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ orders: [] });
    const forwarded = await setup.provider.requests({ path: '/origin/api/orders' });
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.headers['x-kenni-sub']).toBe(String(claims.sub));
    expect(forwarded[0]!.headers['x-kenni-auth']).toBe('bearer');
    expect(forwarded[0]!.headers['x-kenni-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  },
};

freezeDateEachTest();

/** Reasons of the `bearer_rejected` log lines written so far. */
function rejectionReasons(): string[] {
  return testEvents()
    .filter((entry) => entry.event === 'bearer_rejected')
    .map((entry) => String(entry.reason));
}

/** Asserts an RFC 6750 `invalid_token` answer with `description`, and the logged reason. */
async function expectInvalidToken(response: Response, description: string, reason: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(
    `Bearer realm="kenni-edge", error="invalid_token", error_description="${description}", ${RESOURCE_METADATA_PARAM}`,
  );
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-kenni-sub')).toBeNull();
  expect(await response.json()).toEqual({
    error: 'invalid_token',
    error_description: description,
    code: 'bearer_invalid',
  });
  expect(rejectionReasons().at(-1)).toBe(reason);
}

describe.each([verifyRoute, apiRoute])('bearer verification through $name', (surface) => {
  async function expectNotForwarded(setup: Setup): Promise<void> {
    expect(await setup.provider.requests({ path: '/origin/api/orders' })).toEqual([]);
  }

  describe('accepts', () => {
    it.each(['RS256', 'ES256', 'PS256', 'EdDSA'] as const)(
      'a valid %s token when the provider advertises the algorithm',
      async (alg: TestKeyAlg) => {
        const key = await generateTestKey(alg);
        const setup = await setUp({ algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'], keys: [key] });
        const claims = setup.claims();

        const response = await surface.send(setup.edge, await signJwt(key, claims));

        await surface.expectAccepted(setup, response, claims);
      },
    );

    it('a token whose aud array includes the API audience', async () => {
      const setup = await setUp();
      const claims = setup.claims({ aud: ['@t.is/other-api', AUDIENCE] });

      await surface.expectAccepted(setup, await surface.send(setup.edge, await signJwt(setup.key, claims)), claims);
    });

    it('a token that expired less than the 30 s leeway ago', async () => {
      const setup = await setUp();
      const claims = setup.claims({ exp: Math.floor(NOW / 1000) + 300 });
      const token = await signJwt(setup.key, claims);
      vi.setSystemTime(NOW + (300 + LEEWAY_SECONDS - 1) * 1000);

      await surface.expectAccepted(setup, await surface.send(setup.edge, token), claims);
    });

    it('a token whose nbf is within the leeway', async () => {
      const setup = await setUp();
      const claims = setup.claims({ nbf: Math.floor(NOW / 1000) + LEEWAY_SECONDS - 5 });

      await surface.expectAccepted(setup, await surface.send(setup.edge, await signJwt(setup.key, claims)), claims);
    });

    it.each(['at+jwt', 'application/at+jwt', 'JWT'])('a token with typ %s', async (typ) => {
      const setup = await setUp();
      const claims = setup.claims();

      await surface.expectAccepted(
        setup,
        await surface.send(setup.edge, await signJwt(setup.key, claims, { typ })),
        claims,
      );
    });

    it('a PS256 token whose key in the JWKS declares no alg, when the provider advertises RS256 and PS256', async () => {
      const pss = await generateTestKey('PS256');
      const setup = await setUp({
        algorithms: ['RS256', 'PS256'],
        keys: [{ ...pss, publicJwk: { ...pss.publicJwk, alg: undefined } }],
      });
      const claims = setup.claims();

      await surface.expectAccepted(setup, await surface.send(setup.edge, await signJwt(pss, claims)), claims);
    });

    it('a token without kid when the JWKS has exactly one key', async () => {
      const setup = await setUp();
      const claims = setup.claims();

      await surface.expectAccepted(
        setup,
        await surface.send(setup.edge, await signJwt(setup.key, claims, { kid: undefined })),
        claims,
      );
    });
  });

  describe('refuses with 401 invalid_token', () => {
    it.each(['PS256', 'EdDSA'] as const)(
      'a %s token when the provider does not advertise the algorithm',
      async (alg) => {
        const key = await generateTestKey(alg);
        const setup = await setUp({ keys: [key] }); // discovery advertises RS256 and ES256 only

        await expectInvalidToken(
          await surface.send(setup.edge, await setup.token({}, {}, key)),
          "The token's algorithm is not allowed.",
          'algorithm_not_allowed',
        );
        await expectNotForwarded(setup);
      },
    );

    it('a PS256 token whose kid names a key that declares alg RS256, even when the provider advertises both', async () => {
      const pss = await generateTestKey('PS256');
      const setup = await setUp({
        algorithms: ['RS256', 'PS256'],
        keys: [{ ...pss, publicJwk: { ...pss.publicJwk, alg: 'RS256' } }],
      });

      await expectInvalidToken(
        await surface.send(setup.edge, await signJwt(pss, setup.claims())),
        'The token was not signed by a known key of the provider.',
        'unknown_key',
      );
      expect(await setup.provider.requests({ path: '/oidc/jwks' })).toHaveLength(1);
      await expectNotForwarded(setup);
    });

    it('a token for another audience', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({ aud: '@t.is/other-api' })),
        'The token is not meant for this API (audience).',
        'invalid_aud',
      );
      await expectNotForwarded(setup);
    });

    it.each([
      ['another issuer', () => 'https://idp.kenni.is/evil.is'],
      ['the issuer with a trailing slash', (issuer: string) => `${issuer}/`],
      ['the issuer in upper case', (issuer: string) => issuer.toUpperCase()],
    ])('a token from %s, even signed by a key of the JWKS', async (_name, iss) => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({ iss: iss(setup.provider.issuer) })),
        'The token was issued by another issuer.',
        'invalid_iss',
      );
      await expectNotForwarded(setup);
    });

    it('a token that expired more than the 30 s leeway ago', async () => {
      const setup = await setUp();
      const token = await setup.token({ exp: Math.floor(NOW / 1000) + 300 });
      vi.setSystemTime(NOW + (300 + LEEWAY_SECONDS + 1) * 1000);

      await expectInvalidToken(await surface.send(setup.edge, token), 'The token has expired.', 'expired');
      await expectNotForwarded(setup);
    });

    it('a token whose nbf is beyond the leeway in the future', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({ nbf: Math.floor(NOW / 1000) + LEEWAY_SECONDS + 60 })),
        'The token is not valid yet.',
        'invalid_nbf',
      );
      await expectNotForwarded(setup);
    });

    it('a token without exp (RFC 9068 requires it)', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({ exp: undefined })),
        'The token has no expiry.',
        'invalid_exp',
      );
      await expectNotForwarded(setup);
    });

    it('an unsecured token (alg none) with an empty signature', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, unsecuredJwt(setup.claims(), { kid: setup.key.kid })),
        'The token is not a signed JWT.',
        'malformed',
      );
      await expectNotForwarded(setup);
    });

    it('an alg none token that carries a signature segment', async () => {
      const setup = await setUp();
      const token = `${unsecuredJwt(setup.claims(), { kid: setup.key.kid })}c2lnbmF0dXJl`;

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        "The token's algorithm is not allowed.",
        'algorithm_not_allowed',
      );
      await expectNotForwarded(setup);
    });

    it.each(['jwk-json', 'pem'] as const)('an HS256 token whose HMAC secret is the public key (%s)', async (secret) => {
      const setup = await setUp();
      const token = await hs256WithPublicKey(setup.key.publicJwk, setup.claims(), { secret });

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        "The token's algorithm is not allowed.",
        'algorithm_not_allowed',
      );
      await expectNotForwarded(setup);
    });

    it('a token signed by a foreign key that its header points at (jku, jwk, x5u, x5c), without fetching any of them', async () => {
      const setup = await setUp();
      const foreign = await generateTestKey('RS256');
      await setup.provider.route('GET', '/attacker/jwks', { json: { keys: [foreign.publicJwk] } });
      await setup.provider.route('GET', '/attacker/cert.pem', { body: 'not a certificate' });
      const token = await setup.token(
        {},
        {
          jku: setup.provider.url('/attacker/jwks'),
          jwk: foreign.publicJwk,
          x5u: setup.provider.url('/attacker/cert.pem'),
          x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo'],
        },
        foreign,
      );

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        'The token was not signed by a known key of the provider.',
        'unknown_key',
      );
      expect(await setup.provider.requests({ path: /^\/attacker\// })).toEqual([]);
      expect(await setup.provider.requests({ path: '/oidc/jwks' })).toHaveLength(1);
      await expectNotForwarded(setup);
    });

    it("a token signed by a foreign key that claims the provider key's kid and embeds its own jwk", async () => {
      const setup = await setUp();
      const foreign = await generateTestKey('RS256', setup.key.kid);
      const token = await setup.token({}, { jwk: foreign.publicJwk }, foreign);

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        'The token signature is invalid.',
        'bad_signature',
      );
      await expectNotForwarded(setup);
    });

    it('an ID token presented as a bearer token (aud is the client id)', async () => {
      const setup = await setUp();
      const token = await signJwt(
        setup.key,
        makeIdTokenClaims({ issuer: setup.provider.issuer, clientId: CLIENT_ID, nonce: 'n-123', scope: API_SCOPE }),
      );

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        'The token is not meant for this API (audience).',
        'invalid_aud',
      );
      await expectNotForwarded(setup);
    });

    it('an ID token carrying a nonce and the API audience', async () => {
      const setup = await setUp();
      const token = await signJwt(
        setup.key,
        makeIdTokenClaims({
          issuer: setup.provider.issuer,
          clientId: AUDIENCE,
          nonce: 'n-123',
          scope: `openid ${API_SCOPE}`,
        }),
      );

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        'The token is an ID token, not an access token.',
        'not_an_access_token',
      );
      await expectNotForwarded(setup);
    });

    it('an ID token carrying at_hash (no nonce) and the API audience', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({ at_hash: 'x3cCqW8Qy6tGZ1lH6rGJnQ' })),
        'The token is an ID token, not an access token.',
        'not_an_access_token',
      );
      await expectNotForwarded(setup);
    });

    it.each(['id_token+jwt', 'application/id_token+jwt', 'logout+jwt', 'secevent+jwt', 'dpop+jwt'])(
      'a token with typ %s',
      async (typ) => {
        const setup = await setUp();

        await expectInvalidToken(
          await surface.send(setup.edge, await setup.token({}, { typ })),
          'The token is not an access token.',
          'not_an_access_token',
        );
        await expectNotForwarded(setup);
      },
    );

    it('a JWE-shaped (encrypted) token, before any JWKS fetch', async () => {
      const setup = await setUp();

      await expectInvalidToken(
        await surface.send(setup.edge, jweShapedToken({ kid: setup.key.kid })),
        'Encrypted tokens (JWE) are not accepted.',
        'encrypted_token',
      );
      expect(await setup.provider.requests({ path: '/oidc/jwks' })).toEqual([]);
      await expectNotForwarded(setup);
    });

    it('a token with a crit header, before any JWKS fetch', async () => {
      const setup = await setUp();
      const token = await setup.token({}, { crit: ['urn:example:policy'], 'urn:example:policy': 'strict' });

      await expectInvalidToken(
        await surface.send(setup.edge, token),
        'The token has critical header parameters the edge does not understand.',
        'critical_header',
      );
      expect(await setup.provider.requests({ path: '/oidc/jwks' })).toEqual([]);
      await expectNotForwarded(setup);
    });

    it('a token without kid when two keys of the JWKS could have signed it, without a refetch', async () => {
      const key = await generateTestKey('RS256');
      const setup = await setUp({ keys: [key, await generateTestKey('RS256')] });

      await expectInvalidToken(
        await surface.send(setup.edge, await setup.token({}, { kid: undefined })),
        'The token was not signed by a known key of the provider.',
        'unknown_key',
      );
      expect(await setup.provider.requests({ path: '/oidc/jwks' })).toHaveLength(1);
      await expectNotForwarded(setup);
    });

    it('a token signed with a valid key but whose signature was tampered with', async () => {
      const setup = await setUp();
      const [header, payload] = (await setup.token()).split('.');
      const other = (await setup.token({ sub: 'someone-else' })).split('.')[2];

      await expectInvalidToken(
        await surface.send(setup.edge, `${header}.${payload}.${other}`),
        'The token signature is invalid.',
        'bad_signature',
      );
      await expectNotForwarded(setup);
    });
  });

  it('accepts a kid-less token when only one key fits its algorithm', async () => {
    const rsa = await generateTestKey('RS256');
    const setup = await setUp({ keys: [rsa, await generateTestKey('ES256')] });
    const claims = setup.claims();

    await surface.expectAccepted(
      setup,
      await surface.send(setup.edge, await signJwt(rsa, claims, { kid: undefined })),
      claims,
    );
  });

  it('answers 400 or 401, never 5xx, to 1,000 random and truncated strings', async () => {
    const setup = await setUp();
    const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
    const garbage = [
      ...randomGarbageTokens(1000, { charset: 'ascii', seed }),
      // Near misses of real tokens: signed by the provider's key, so truncations and flips reach the signature check;
      // the audience is wrong so that a flip that only touches unused padding bits cannot produce a valid token.
      ...randomGarbageTokens(200, {
        charset: 'ascii',
        seed,
        validTokens: [
          await setup.token({ aud: '@t.is/other-api' }),
          await setup.token({ aud: '@t.is/other-api', exp: undefined }),
        ],
      }),
    ];
    const answers: Array<{ status: number; challenge: string | null; error: unknown; token: string }> = [];
    for (let start = 0; start < garbage.length; start += 100) {
      const batch = garbage.slice(start, start + 100);
      answers.push(
        ...(await Promise.all(
          batch.map(async (token) => {
            const response = await surface.send(setup.edge, token);
            const body = (await response.json()) as { error?: unknown };
            return {
              status: response.status,
              challenge: response.headers.get('www-authenticate'),
              error: body.error,
              token,
            };
          }),
        )),
      );
    }

    const unexpected = answers.filter(({ status, challenge, error }) =>
      status === 400
        ? !(error === 'invalid_request' && challenge?.startsWith('Bearer realm="kenni-edge", error="invalid_request"'))
        : status === 401
          ? !(
              (error === 'invalid_token' &&
                challenge?.startsWith('Bearer realm="kenni-edge", error="invalid_token", error_description="')) ||
              // An empty token is no bearer token at all ("Bearer " is trimmed to "Bearer"): 400 above, or for the
              // gateway a request without credentials.
              challenge === `Bearer realm="kenni-edge", ${RESOURCE_METADATA_PARAM}`
            )
          : true,
    );
    expect(
      unexpected.map(({ status, error, token }) => ({ status, error, token: token.slice(0, 80) })),
      `garbage seed ${seed}`,
    ).toEqual([]);
    // Most of them get past the header parsing and are refused as tokens.
    expect(answers.filter(({ status }) => status === 401).length).toBeGreaterThan(garbage.length / 2);
    expect((await setup.provider.requests({ path: '/oidc/jwks' })).length).toBeLessThanOrEqual(1);
    await expectNotForwarded(setup);
  });
});

describe('the token subject in x-kenni-sub', () => {
  it('is percent-encoded UTF-8 when it is not plain ASCII, so an Icelandic subject arrives intact', async () => {
    const setup = await setUp();
    const claims = setup.claims({ sub: '@t.is/þjónusta' });

    const response = await verifyRoute.send(setup.edge, await signJwt(setup.key, claims));

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe('%40t.is%2F%C3%BEj%C3%B3nusta');
    expect(decodeURIComponent(response.headers.get('x-kenni-sub')!)).toBe('@t.is/þjónusta');
    expect(await response.json()).toEqual({ claims });
  });

  it('is sent as it is when it is printable ASCII without "%" (a Kenni client id), and decodes to itself', async () => {
    const setup = await setUp();
    const claims = setup.claims({ sub: '@t.is/m2m' });

    const response = await verifyRoute.send(setup.edge, await signJwt(setup.key, claims));

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe('@t.is/m2m');
    expect(decodeURIComponent(response.headers.get('x-kenni-sub')!)).toBe('@t.is/m2m');
  });

  it('is percent-encoded when it contains "%", so decoding never corrupts it', async () => {
    const setup = await setUp();
    const response = await verifyRoute.send(setup.edge, await signJwt(setup.key, setup.claims({ sub: 'user%41' })));
    expect(response.headers.get('x-kenni-sub')).toBe('user%2541');
    expect(decodeURIComponent(response.headers.get('x-kenni-sub')!)).toBe('user%41');
  });

  it('is forwarded from the token to the origin, and a client-sent one is dropped', async () => {
    const setup = await setUp();
    const response = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await setup.token()}`, 'x-kenni-sub': 'admin', X_Kenni_Sub: 'admin' },
    });

    expect(response.status).toBe(200);
    const [forwarded] = await setup.provider.requests({ path: '/origin/api/orders' });
    expect(forwarded!.headers['x-kenni-sub']).toBe(TEST_SUBJECT);
    expect(forwarded!.headers['x_kenni_sub']).toBeUndefined();
  });
});
