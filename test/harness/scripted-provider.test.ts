import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createScriptedProvider, tokenError, tokenResponse } from '../support/scripted-provider.ts';
import {
  generateTestKey,
  hs256WithPublicKey,
  jweShapedToken,
  makeAccessTokenClaims,
  makeIdTokenClaims,
  randomGarbageTokens,
  signJwt,
  unsecuredJwt,
} from '../support/token-factory.ts';

describe('scripted provider', () => {
  it('answers a scripted route with its status, headers and body', async () => {
    const provider = await createScriptedProvider();
    await provider.route('GET', '/hello', { status: 418, headers: { 'x-test': 'yes' }, json: { hello: 'world' } });

    const response = await fetch(provider.url('/hello'));

    expect(response.status).toBe(418);
    expect(response.headers.get('x-test')).toBe('yes');
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ hello: 'world' });
  });

  it('answers 404 JSON for a route that was not scripted', async () => {
    const provider = await createScriptedProvider();

    const response = await fetch(provider.url('/nothing-here'));

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'no_route' });
  });

  it('takes queued replies in order and repeats the last one', async () => {
    const provider = await createScriptedProvider();
    await provider.route('GET', '/queue', [{ status: 503 }, { body: 'second' }, { body: 'last' }]);

    const results: Array<[number, string]> = [];
    for (let index = 0; index < 5; index++) {
      const response = await fetch(provider.url('/queue'));
      results.push([response.status, await response.text()]);
    }

    expect(results).toEqual([
      [503, ''],
      [200, 'second'],
      [200, 'last'],
      [200, 'last'],
      [200, 'last'],
    ]);
  });

  it('records method, path, query, headers and body of every request', async () => {
    const provider = await createScriptedProvider();
    await provider.serveToken(tokenResponse({ id_token: 'x', expires_in: 60 }));

    await fetch(provider.url('/oidc/auth?client_id=%40team.is%2Fweb&state=abc'));
    const tokenReply = await fetch(provider.endpoints.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Zm9vOmJhcg==' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'the-code', code_verifier: 'v' }),
    });

    expect(tokenReply.headers.get('cache-control')).toBe('no-store');
    expect(await tokenReply.json()).toMatchObject({ id_token: 'x', expires_in: 60, token_type: 'Bearer' });
    const all = await provider.requests();
    expect(all.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /oidc/auth', 'POST /oidc/token']);
    expect(all[0]!.query).toEqual({ client_id: '@team.is/web', state: 'abc' });
    expect(all[0]!.search).toBe('?client_id=%40team.is%2Fweb&state=abc');
    const [token] = await provider.requests({ method: 'post', path: '/oidc/token' });
    expect(token!.headers.authorization).toBe('Basic Zm9vOmJhcg==');
    expect(token!.body).toBe('grant_type=authorization_code&code=the-code&code_verifier=v');
    expect(token!.form).toEqual({ grant_type: 'authorization_code', code: 'the-code', code_verifier: 'v' });
    expect(await provider.requests((request) => request.path.startsWith('/oidc/'))).toHaveLength(2);
  });

  it('keeps tenants apart', async () => {
    const first = await createScriptedProvider();
    const second = await createScriptedProvider();
    await first.route('GET', '/thing', { body: 'first' });

    expect(await (await fetch(first.url('/thing'))).text()).toBe('first');
    expect((await fetch(second.url('/thing'))).status).toBe(404);
    expect(await first.requests()).toHaveLength(1);
    expect(await second.requests()).toHaveLength(1);

    await first.reset();
    expect(await first.requests()).toEqual([]);
    expect((await fetch(first.url('/thing'))).status).toBe(404);
    expect(await second.requests()).toHaveLength(1);
  });

  it('hangs until the client gives up', async () => {
    const provider = await createScriptedProvider();
    await provider.route('GET', '/slow', { hang: true });

    await expect(fetch(provider.url('/slow'), { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(await provider.requests({ path: '/slow' })).toHaveLength(1);
  });

  it('resets the connection on destroy', async () => {
    const provider = await createScriptedProvider();
    await provider.route('GET', '/reset', { destroy: true });

    await expect(fetch(provider.url('/reset'))).rejects.toThrow();
    expect(await provider.requests({ path: '/reset' })).toHaveLength(1);
  });

  it('serves a Kenni-like discovery document with overrides merged', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery({ end_session_endpoint: undefined, extra: 1 });

    const document = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;

    expect(document).toMatchObject({
      issuer: provider.issuer,
      authorization_endpoint: `${provider.issuer}/oidc/auth`,
      token_endpoint: `${provider.issuer}/oidc/token`,
      jwks_uri: `${provider.issuer}/oidc/jwks`,
      userinfo_endpoint: `${provider.issuer}/oidc/me`,
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      response_types_supported: ['code'],
      extra: 1,
    });
    expect(document).not.toHaveProperty('end_session_endpoint');
  });
});

describe('token factory', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(['RS256', 'ES256', 'PS256', 'EdDSA'] as const)(
    'signs a %s token that verifies against the JWKS served over HTTP',
    async (alg) => {
      const provider = await createScriptedProvider();
      await provider.serveDiscovery();
      const key = await generateTestKey(alg);
      const other = await generateTestKey('ES256');
      await provider.serveJwks([other, key], { headers: { 'cache-control': 'max-age=60' } });
      const claims = makeIdTokenClaims({ issuer: provider.issuer, clientId: '@team.is/web', nonce: 'n-1' });
      const token = await signJwt(key, claims);

      const jwks = createRemoteJWKSet(new URL(provider.endpoints.jwks_uri));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: provider.issuer,
        audience: '@team.is/web',
      });

      expect(protectedHeader).toEqual({ alg, kid: key.kid });
      expect(payload).toMatchObject({ nonce: 'n-1', national_id: '0101302989' });
      const [jwksRequest] = await provider.requests({ path: '/oidc/jwks' });
      expect(jwksRequest?.method).toBe('GET');
    },
  );

  it('applies header overrides, also ones jose will not produce, with a signature still valid for the key', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery();
    const key = await generateTestKey('RS256');
    await provider.serveJwks([key]);
    const jwks = createRemoteJWKSet(new URL(provider.endpoints.jwks_uri));
    const claims = makeAccessTokenClaims({
      issuer: provider.issuer,
      audience: '@team.is/web-api',
      scope: ['openid', '@team.is/api.read'],
    });

    const typed = await signJwt(key, claims, { typ: 'at+jwt', kid: undefined, jku: 'https://evil.example/jwks' });
    expect(decodeProtectedHeader(typed)).toEqual({ alg: 'RS256', typ: 'at+jwt', jku: 'https://evil.example/jwks' });
    expect(decodeJwt(typed)).toMatchObject({
      client_id: '@team.is/web',
      scope: 'openid @team.is/api.read',
      aud: '@team.is/web-api',
    });
    await expect(jwtVerify(typed, key.publicKey)).resolves.toMatchObject({
      protectedHeader: { alg: 'RS256', typ: 'at+jwt' },
      payload: { aud: '@team.is/web-api' },
    });

    const critical = await signJwt(key, claims, { crit: ['exp'] });
    expect(decodeProtectedHeader(critical).crit).toEqual(['exp']);
    await expect(jwtVerify(critical, jwks)).rejects.toThrow();

    const unknownCritical = await signJwt(key, claims, { crit: ['https://example.com/unknown'] });
    expect(decodeProtectedHeader(unknownCritical).crit).toEqual(['https://example.com/unknown']);
    await expect(jwtVerify(unknownCritical, jwks)).rejects.toThrow();

    // The header claims RS512 but the signature is RS256: a verifier must not trust the header's alg.
    const lying = await signJwt(key, claims, { alg: 'RS512' });
    expect(decodeProtectedHeader(lying).alg).toBe('RS512');
    await expect(jwtVerify(lying, jwks)).rejects.toThrow();
  });

  it('makes hostile tokens that a strict verifier refuses', async () => {
    const key = await generateTestKey('RS256');
    const claims = makeIdTokenClaims({ issuer: 'https://idp.example/team.is', clientId: 'c', nonce: 'n' });

    const none = unsecuredJwt(claims);
    expect(none.split('.')).toHaveLength(3);
    expect(none.endsWith('.')).toBe(true);
    expect(decodeProtectedHeader(none)).toEqual({ alg: 'none' });

    for (const secret of ['jwk-json', 'pem'] as const) {
      const confused = await hs256WithPublicKey(key.publicJwk, claims, { secret });
      expect(decodeProtectedHeader(confused)).toEqual({ alg: 'HS256', kid: key.kid });
      await expect(jwtVerify(confused, key.publicKey)).rejects.toThrow();
    }
    // The key-confusion token really is an HMAC over the public key's JSON.
    const confused = await hs256WithPublicKey(key.publicJwk, claims);
    await expect(jwtVerify(confused, new TextEncoder().encode(JSON.stringify(key.publicJwk)))).resolves.toMatchObject({
      protectedHeader: { alg: 'HS256', kid: key.kid },
    });

    const jwe = jweShapedToken();
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).toMatch(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){4}$/);
  });

  it('makes garbage tokens, none of which verify, reproducibly from a seed', async () => {
    const key = await generateTestKey('ES256');
    const valid = await signJwt(key, { sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 });
    const garbage = randomGarbageTokens(40, { validTokens: [valid], seed: 42, charset: 'ascii' });

    expect(garbage).toHaveLength(40);
    expect(randomGarbageTokens(40, { validTokens: [valid], seed: 42, charset: 'ascii' })).toEqual(garbage);
    expect(garbage.some((token) => token.length > 16_000)).toBe(true);
    expect(garbage.some((token) => valid.startsWith(token) && token !== valid)).toBe(true);
    for (const token of garbage) {
      expect(token).not.toBe(valid);
      expect(token).toMatch(/^[\x20-\x7e]*$/);
      expect(() => new Headers({ authorization: `Bearer ${token}` })).not.toThrow();
      await expect(jwtVerify(token, key.publicKey)).rejects.toThrow();
    }
    expect(randomGarbageTokens(12).some((token) => /[^\x00-\x7f]/.test(token))).toBe(true);
    expect(randomGarbageTokens(12, { charset: 'any' }).join('')).toMatch(/[\x00\n\r\uD800]/);
  });

  it('takes claim times from the controlled clock', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const claims = makeIdTokenClaims({
      issuer: 'https://i',
      clientId: 'c',
      nonce: undefined,
      sub: 's',
      name: undefined,
    });

    expect(claims).toMatchObject({ iat: 1893456000, exp: 1893456000 + 3600, sub: 's' });
    expect(claims).not.toHaveProperty('nonce');
    expect(claims).not.toHaveProperty('name');
  });

  it('builds token endpoint replies', () => {
    expect(tokenResponse({ access_token: 'a', refresh_token: undefined })).toEqual({
      status: 200,
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
      json: { access_token: 'a', token_type: 'Bearer' },
    });
    expect(tokenError('invalid_grant')).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
  });
});
