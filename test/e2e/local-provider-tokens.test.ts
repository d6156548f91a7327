/**
 * The real dev provider's tokens (dev/provider.ts): ID tokens always carry
 * `auth_time` and `sid`; token introspection (RFC 7662) answers for opaque and
 * JWT access tokens and stops answering `active: true` once a token is revoked
 * (RFC 7009).
 */
import { env } from 'cloudflare:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import {
  API_SCOPE,
  authorize,
  loadDiscovery,
  postAsWebClient,
  redeemCode,
  signInForTokens,
  verifyProviderJwt,
  WEB_CLIENT,
  type ProviderDiscovery,
} from '../support/provider-client.ts';
import { THORDUR } from '../support/presets.ts';

const ISSUER = String((env as unknown as Env).KENNI_ISSUER);
const API_AUDIENCE = '@dev-team.is/web-api';

let discovery: ProviderDiscovery;

beforeAll(async () => {
  discovery = await loadDiscovery(ISSUER);
});

const introspect = (token: string) => postAsWebClient(discovery.introspection_endpoint, { token });
const revoke = (token: string) => postAsWebClient(discovery.revocation_endpoint, { token });

describe('ID tokens', () => {
  it('carry auth_time, sid and amr; a second sign-in in the same provider session keeps auth_time and sid', async () => {
    const first = await signInForTokens(discovery, {}, { login: THORDUR.national_id });
    const idToken = await verifyProviderJwt(discovery, first.tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(Number.isInteger(idToken.auth_time)).toBe(true);
    expect(Math.abs(Number(idToken.auth_time) - Number(idToken.iat))).toBeLessThanOrEqual(5);
    expect(idToken.sid).toBeTypeOf('string');
    expect(String(idToken.sid).length).toBeGreaterThanOrEqual(16);
    expect(idToken.amr).toEqual(['hwk']);

    // No max_age, no prompt=login: Kenni still sends auth_time, and it is the first sign-in's.
    const second = await signInForTokens(
      discovery,
      {},
      { login: THORDUR.national_id, providerCookies: first.signIn.providerCookies },
    );
    expect(second.signIn.pages).toEqual([]);
    const again = await verifyProviderJwt(discovery, second.tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(again.auth_time).toBe(idToken.auth_time);
    expect(again.sid).toBe(idToken.sid);
  });

  it('are advertised with introspection, revocation and back-channel logout in discovery', () => {
    expect(discovery.introspection_endpoint).toBe(`${ISSUER}/oidc/token/introspection`);
    expect(discovery.revocation_endpoint).toBe(`${ISSUER}/oidc/token/revocation`);
    expect(discovery.backchannel_logout_supported).toBe(true);
    expect(discovery.backchannel_logout_session_supported).toBe(true);
    expect(discovery.claims_supported).toEqual(
      expect.arrayContaining(['auth_time', 'sid', 'actor', 'delegation_type']),
    );
  });
});

describe('refresh of a delegated sign-in', () => {
  it('keeps the party as subject and Þórður as actor in the refreshed ID token and access token', async () => {
    const { tokens } = await signInForTokens(
      discovery,
      { prompt: 'delegation', scope: `openid profile national_id offline_access ${API_SCOPE}` },
      { login: THORDUR.national_id, delegation: 'person' },
    );
    expect(tokens.refresh_token).toBeTypeOf('string');
    const refreshed = await postAsWebClient(discovery.token_endpoint, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token!,
    });
    expect(refreshed.status).toBe(200);
    const delegated = {
      sub: 'dev-party-asta',
      national_id: '2208353169',
      delegation_type: '@dev-team.is:care',
      actor: { sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name },
    };
    expect(
      await verifyProviderJwt(discovery, String(refreshed.body.id_token), { audience: WEB_CLIENT.client_id }),
    ).toMatchObject(delegated);
    expect(
      await verifyProviderJwt(discovery, String(refreshed.body.access_token), { audience: API_AUDIENCE }),
    ).toMatchObject(delegated);
  });
});

describe('token introspection (web client, client_secret_basic)', () => {
  it('answers active: true for a live opaque access token, then active: false once it is revoked', async () => {
    const { tokens } = await signInForTokens(discovery, {}, { login: THORDUR.national_id });
    expect(tokens.access_token.split('.')).toHaveLength(1);

    const live = await introspect(tokens.access_token);
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({
      active: true,
      sub: THORDUR.sub,
      client_id: WEB_CLIENT.client_id,
      iss: ISSUER,
      token_type: 'Bearer',
      national_id: THORDUR.national_id,
      name: THORDUR.name,
    });
    expect(String(live.body.scope).split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'national_id']));
    expect(Number(live.body.exp)).toBeGreaterThan(Number(live.body.iat));

    expect((await revoke(tokens.access_token)).status).toBe(200);
    expect(await introspect(tokens.access_token)).toEqual({ status: 200, body: { active: false } });
  });

  it('answers for a JWT access token with its claims, and active: false once it is revoked', async () => {
    const { tokens } = await signInForTokens(
      discovery,
      { scope: `openid profile national_id ${API_SCOPE}` },
      { login: THORDUR.national_id },
    );
    const jwt = await verifyProviderJwt(discovery, tokens.access_token, { audience: API_AUDIENCE, typ: 'at+jwt' });

    const live = await introspect(tokens.access_token);
    expect(live.status).toBe(200);
    expect(live.body).toMatchObject({
      active: true,
      sub: THORDUR.sub,
      aud: API_AUDIENCE,
      client_id: WEB_CLIENT.client_id,
      iss: ISSUER,
      exp: jwt.exp,
      iat: jwt.iat,
    });
    expect(String(live.body.scope).split(' ')).toContain(API_SCOPE);

    expect((await revoke(tokens.access_token)).status).toBe(200);
    expect(await introspect(tokens.access_token)).toEqual({ status: 200, body: { active: false } });
  });

  it('answers for a client-credentials JWT of the machine client', async () => {
    const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
    const response = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa(`${encode('@dev-team.is/m2m')}:${encode('m2m:s3cret+%/x=')}`)}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: API_SCOPE }),
    });
    const { access_token: token } = (await response.json()) as { access_token: string };
    expect(token.split('.')).toHaveLength(3);
    const { body } = await introspect(token);
    expect(body).toMatchObject({ active: true, client_id: '@dev-team.is/m2m', aud: API_AUDIENCE, scope: API_SCOPE });
    expect(body).not.toHaveProperty('national_id');
  });

  it('names the represented party and the actor for a delegated opaque token', async () => {
    const { tokens } = await signInForTokens(
      discovery,
      { prompt: 'delegation' },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    const { body } = await introspect(tokens.access_token);
    expect(body).toMatchObject({
      active: true,
      sub: 'dev-party-aevarsson-ehf',
      national_id: '5505984269',
      name: 'Ævarsson ehf.',
      actor: { sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name },
      delegation_type: 'c:procurator',
    });
  });

  it('answers active: false for garbage and for a JWT with a live token’s jti but another signature', async () => {
    expect(await introspect('not-a-token')).toEqual({ status: 200, body: { active: false } });
    expect(await introspect('a.b.c')).toEqual({ status: 200, body: { active: false } });

    const { tokens } = await signInForTokens(
      discovery,
      { scope: `openid ${API_SCOPE}` },
      { login: THORDUR.national_id },
    );
    const genuine = decodeJwt(tokens.access_token);
    expect((await introspect(tokens.access_token)).body.active).toBe(true);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ ...genuine })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker' })
      .sign(privateKey);
    expect(await introspect(forged)).toEqual({ status: 200, body: { active: false } });
    // Nor may the jti alone stand in for the token: oidc-provider stores JWT access tokens under it.
    expect(await introspect(String(genuine.jti))).toEqual({ status: 200, body: { active: false } });
  });

  it('answers an oversized request with 400 invalid_request, not a server error', async () => {
    const { status, body } = await postAsWebClient(discovery.introspection_endpoint, { token: 'x'.repeat(70 * 1024) });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_request' });
  });

  it('answers an oversized sign-out form with 413, not a server error', async () => {
    const response = await fetch(discovery.end_session_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: WEB_CLIENT.client_id, state: 'x'.repeat(70 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(await response.text()).toContain('request body too large');
  });

  it('refuses a caller without client authentication (401 invalid_client)', async () => {
    const { tokens } = await signInForTokens(discovery, {}, { login: THORDUR.national_id });
    const response = await fetch(discovery.introspection_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, client_id: WEB_CLIENT.client_id }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('keeps answering for a code redeemed before revocation of another token (revocation is per token)', async () => {
    const first = await authorize(discovery, {}, { login: THORDUR.national_id });
    const second = await authorize(discovery, {}, { login: THORDUR.national_id });
    const [a, b] = [await redeemCode(discovery, first), await redeemCode(discovery, second)];
    await revoke(a.access_token);
    expect((await introspect(a.access_token)).body.active).toBe(false);
    expect((await introspect(b.access_token)).body.active).toBe(true);
  });
});
