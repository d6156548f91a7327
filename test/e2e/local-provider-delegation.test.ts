/**
 * Kenni delegations on the real dev provider (dev/provider.ts): with
 * `prompt=delegation` a picker follows the login, and the tokens then name
 * the represented party as subject with `actor` and `delegation_type`, as
 * Kenni puts them, in the ID token, at userinfo and in the JWT access token.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEV_DELEGATIONS, DEV_USERS } from '../../dev/provider/people.ts';
import type { Env } from '../../src/config.ts';
import {
  API_SCOPE,
  authorize,
  loadDiscovery,
  signInForTokens,
  verifyProviderJwt,
  WEB_CLIENT,
  type ProviderDiscovery,
} from '../support/provider-client.ts';

const ISSUER = String((env as unknown as Env).KENNI_ISSUER);
const API_AUDIENCE = '@dev-team.is/web-api';
const THORDUR = DEV_USERS.find((user) => user.sub === 'dev-user-thordur')!;
const GUDRUN = DEV_USERS.find((user) => user.sub === 'dev-user-gudrun')!;
const THORDUR_AS_ACTOR = { national_id: THORDUR.national_id, name: THORDUR.name, sub: THORDUR.sub };
const OIDC_SCOPE = 'openid profile national_id';

let discovery: ProviderDiscovery;

beforeAll(async () => {
  discovery = await loadDiscovery(ISSUER);
  expect(discovery.issuer).toBe(ISSUER);
});

async function userinfo(accessToken: string): Promise<Record<string, unknown>> {
  const response = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('delegated sign-in (prompt=delegation)', () => {
  it.each([
    { key: 'company', type: 'c:procurator' },
    { key: 'person', type: '@dev-team.is:care' },
  ] as const)(
    'for the $key: ID token and JWT access token name the party as subject, Þórður as actor, $type',
    async ({ key, type }) => {
      const delegation = DEV_DELEGATIONS.find((candidate) => candidate.key === key)!;
      const { tokens, signIn } = await signInForTokens(
        discovery,
        { prompt: 'delegation', scope: `${OIDC_SCOPE} ${API_SCOPE}` },
        { login: THORDUR.national_id, delegation: key },
      );
      expect(signIn.pages).toEqual(['login', 'delegation', 'consent']);

      const idToken = await verifyProviderJwt(discovery, tokens.id_token, { audience: WEB_CLIENT.client_id });
      const subject = {
        sub: delegation.party.sub,
        national_id: delegation.party.national_id,
        name: delegation.party.name,
      };
      expect(idToken).toMatchObject({ ...subject, actor: THORDUR_AS_ACTOR, delegation_type: type });
      expect(idToken.sub).not.toBe(THORDUR.sub);
      expect(idToken.actor).toEqual(THORDUR_AS_ACTOR);

      const accessToken = await verifyProviderJwt(discovery, tokens.access_token, {
        audience: API_AUDIENCE,
        typ: 'at+jwt',
      });
      expect(accessToken).toMatchObject({
        ...subject,
        actor: THORDUR_AS_ACTOR,
        delegation_type: type,
        client_id: WEB_CLIENT.client_id,
      });
      expect(String(accessToken.scope).split(' ')).toContain(API_SCOPE);
    },
  );

  it.each(['company', 'person'] as const)(
    'for the %s: userinfo answers for the party, with actor and delegation_type',
    async (key) => {
      const delegation = DEV_DELEGATIONS.find((candidate) => candidate.key === key)!;
      // No API scope: the access token is opaque and good at userinfo.
      const { tokens } = await signInForTokens(
        discovery,
        { prompt: 'delegation', scope: OIDC_SCOPE },
        { login: THORDUR.national_id, delegation: key },
      );
      expect(tokens.access_token.split('.')).toHaveLength(1);

      expect(await userinfo(tokens.access_token)).toEqual({
        sub: delegation.party.sub,
        national_id: delegation.party.national_id,
        name: delegation.party.name,
        actor: THORDUR_AS_ACTOR,
        delegation_type: delegation.delegation_type,
      });
    },
  );

  it('treats prompt=delegation_admin like prompt=delegation', async () => {
    const { tokens, signIn } = await signInForTokens(
      discovery,
      { prompt: 'delegation_admin' },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    expect(signIn.pages).toEqual(['login', 'delegation', 'consent']);
    const idToken = await verifyProviderJwt(discovery, tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(idToken).toMatchObject({
      sub: 'dev-party-aevarsson-ehf',
      delegation_type: 'c:procurator',
      actor: THORDUR_AS_ACTOR,
    });
  });

  it('gives Þórður his own tokens, without actor or delegation_type, when he picks himself', async () => {
    const { tokens, signIn } = await signInForTokens(
      discovery,
      { prompt: 'delegation', scope: `${OIDC_SCOPE} ${API_SCOPE}` },
      { login: THORDUR.national_id, delegation: 'self' },
    );
    expect(signIn.pages).toEqual(['login', 'delegation', 'consent']);
    const idToken = await verifyProviderJwt(discovery, tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(idToken).toMatchObject({ sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name });
    expect(idToken).not.toHaveProperty('actor');
    expect(idToken).not.toHaveProperty('delegation_type');
    const accessToken = await verifyProviderJwt(discovery, tokens.access_token, { audience: API_AUDIENCE });
    expect(accessToken).not.toHaveProperty('actor');
    expect(accessToken).not.toHaveProperty('delegation_type');
  });

  it('sends a user without delegations back with access_denied and Kenni’s “No delegations found”', async () => {
    const result = await authorize(discovery, { prompt: 'delegation' }, { login: GUDRUN.national_id });
    expect(result.pages).toEqual(['login']);
    expect(result.callbackUrl.startsWith('https://edge.test/auth/callback?')).toBe(true);
    expect(result.callback.get('error')).toBe('access_denied');
    expect(result.callback.get('error_description')).toBe('No delegations found');
    expect(result.callback.get('iss')).toBe(ISSUER);
    expect(result.callback.get('code')).toBeNull();
  });

  it('shows the picker again on a later prompt=delegation in the same provider session', async () => {
    const first = await authorize(
      discovery,
      { prompt: 'delegation' },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    const second = await signInForTokens(
      discovery,
      { prompt: 'delegation' },
      { login: THORDUR.national_id, delegation: 'person', providerCookies: first.providerCookies },
    );
    expect(second.signIn.pages).toContain('delegation');
    const idToken = await verifyProviderJwt(discovery, second.tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(idToken).toMatchObject({ sub: 'dev-party-asta', delegation_type: '@dev-team.is:care' });
  });

  it('never reuses a delegated provider session for a sign-in that asks for no delegation', async () => {
    const delegated = await signInForTokens(
      discovery,
      { prompt: 'delegation' },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    expect(
      (await verifyProviderJwt(discovery, delegated.tokens.id_token, { audience: WEB_CLIENT.client_id })).sub,
    ).toBe('dev-party-aevarsson-ehf');
    const { tokens, signIn } = await signInForTokens(
      discovery,
      {},
      { login: THORDUR.national_id, providerCookies: delegated.signIn.providerCookies },
    );
    expect(signIn.pages[0]).toBe('login');
    const idToken = await verifyProviderJwt(discovery, tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(idToken.sub).toBe(THORDUR.sub);
    expect(idToken).not.toHaveProperty('actor');
  });
});

describe('sign-in without delegation', () => {
  it('carries no actor or delegation_type in the ID token, at userinfo or in the JWT access token', async () => {
    const { tokens, signIn } = await signInForTokens(
      discovery,
      { scope: `${OIDC_SCOPE} ${API_SCOPE}` },
      { login: THORDUR.national_id },
    );
    expect(signIn.pages).toEqual(['login', 'consent']);
    const idToken = await verifyProviderJwt(discovery, tokens.id_token, { audience: WEB_CLIENT.client_id });
    expect(idToken).toMatchObject({ sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name });
    expect(Object.keys(idToken)).not.toContain('actor');
    expect(Object.keys(idToken)).not.toContain('delegation_type');
    const accessToken = await verifyProviderJwt(discovery, tokens.access_token, { audience: API_AUDIENCE });
    expect(accessToken).toMatchObject({ sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name });
    expect(Object.keys(accessToken)).not.toContain('actor');
    expect(Object.keys(accessToken)).not.toContain('delegation_type');

    const opaque = await signInForTokens(discovery, { scope: OIDC_SCOPE }, { login: THORDUR.national_id });
    expect(await userinfo(opaque.tokens.access_token)).toEqual({
      sub: THORDUR.sub,
      national_id: THORDUR.national_id,
      name: THORDUR.name,
      given_name: THORDUR.given_name,
      family_name: THORDUR.family_name,
    });
  });

  it('still honours prompt=none, login and consent, and refuses prompt values Kenni does not know', async () => {
    const none = await authorize(discovery, { prompt: 'none' }, { login: THORDUR.national_id });
    expect(none.pages).toEqual([]);
    expect(none.callback.get('error')).toBe('login_required');

    const first = await authorize(discovery, {}, { login: THORDUR.national_id });
    expect(first.pages).toEqual(['login', 'consent']);
    const silent = await authorize(
      discovery,
      { prompt: 'none' },
      { login: THORDUR.national_id, providerCookies: first.providerCookies },
    );
    expect(silent.pages).toEqual([]);
    expect(silent.callback.get('code')).toBeTypeOf('string');
    const login = await authorize(
      discovery,
      { prompt: 'login' },
      { login: THORDUR.national_id, providerCookies: first.providerCookies },
    );
    expect(login.pages).toEqual(['login']);
    expect(login.callback.get('code')).toBeTypeOf('string');
    const consent = await authorize(
      discovery,
      { prompt: 'consent' },
      { login: THORDUR.national_id, providerCookies: first.providerCookies },
    );
    expect(consent.pages).toEqual(['consent']);

    const unknown = await authorize(discovery, { prompt: 'select_account' }, { login: THORDUR.national_id });
    expect(unknown.pages).toEqual([]);
    expect(unknown.callback.get('error')).toBe('invalid_request');
  });
});
