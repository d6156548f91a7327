/**
 * Delegated sign-in end to end (issue 10) against the REAL local provider
 * (dev/provider.ts: its delegation picker) and the demo origin: for a company
 * and for a person, every identity header the origin receives and the verified
 * assertion name the represented party as the subject and Þórður only as the
 * actor; the actor's kennitala never appears as `X-Kenni-National-Id`, the
 * subject's never as the actor's. A JWT access token from the same sign-in,
 * used as a bearer, gives the same headers.
 */
import { env } from 'cloudflare:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEV_DELEGATIONS } from '../../dev/provider/people.ts';
import type { Env } from '../../src/config.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH, THORDUR } from '../support/presets.ts';
import { API_SCOPE, loadDiscovery, signInForTokens } from '../support/provider-client.ts';
import { signInAtProvider } from '../support/provider-login.ts';

const bindings = env as unknown as Env;
const DEMO_ORIGIN = new URL(String(bindings.ORIGIN_URL)).origin;
const ACTOR_HEADERS = [
  'x-kenni-actor-national-id',
  'x-kenni-actor-name',
  'x-kenni-actor-sub',
  'x-kenni-delegation-type',
];

interface Whoami {
  bearer: boolean;
  identityHeaders: Record<string, string>;
}

async function verifyAssertion(edge: TestEdge, assertion: string | undefined) {
  const jwks = (await (await edge.fetch('/auth/jwks.json', { jar: false })).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(assertion!, createLocalJWKSet(jwks), {
    issuer: EDGE_ORIGIN,
    audience: DEMO_ORIGIN,
    algorithms: ['ES256'],
  });
  return payload;
}

/** Signs a new browser in through `/auth/login?<query>` and the provider's pages. */
async function signIn(query: string, delegation?: 'company' | 'person' | 'self') {
  const edge = createTestEdge();
  const login = await edge.fetch(`/auth/login?${query}`, { headers: NAVIGATION });
  expect(login.status).toBe(302);
  const { callbackUrl, pages } = await signInAtProvider(login.headers.get('location')!, {
    login: THORDUR.national_id,
    ...(delegation ? { delegation } : {}),
  });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  return { edge, pages };
}

async function whoami(edge: TestEdge, headers: Record<string, string>): Promise<Whoami> {
  // Spoofed actor headers in several spellings ride along: none may reach the origin.
  const spoofed = {
    'X-Kenni-Actor-National-Id': '0000000000',
    x_kenni_actor_sub: 'spoofed',
    'X-KENNI-DELEGATION-TYPE': 'x',
  };
  const response = await edge.fetch('/api/whoami', { headers: { ...headers, ...spoofed } });
  expect(response.status).toBe(200);
  return (await response.json()) as Whoami;
}

describe('a delegated sign-in with the real provider', () => {
  it.each([
    { key: 'company', kind: 'company' },
    { key: 'person', kind: 'person' },
  ] as const)('for the $key: the party is the subject ($kind), Þórður only the actor', async ({ key, kind }) => {
    const delegation = DEV_DELEGATIONS.find((candidate) => candidate.key === key)!;
    const { party } = delegation;
    const { edge, pages } = await signIn('prompt=delegation&return_to=/', key);
    expect(pages).toContain('delegation');

    const expectedHeaders = {
      'x-kenni-sub': party.sub,
      'x-kenni-national-id': party.national_id,
      'x-kenni-name': encodeURIComponent(party.name),
      'x-kenni-subject-kind': kind,
      'x-kenni-actor-national-id': THORDUR.national_id,
      'x-kenni-actor-name': encodeURIComponent(THORDUR.name),
      'x-kenni-actor-sub': THORDUR.sub,
      'x-kenni-delegation-type': delegation.delegation_type,
    };
    const session = await whoami(edge, SAME_ORIGIN_FETCH);
    expect(session.identityHeaders).toMatchObject({ ...expectedHeaders, 'x-kenni-auth': 'session' });
    expect(session.identityHeaders['x-kenni-national-id']).not.toBe(THORDUR.national_id);
    expect(session.identityHeaders['x-kenni-actor-national-id']).not.toBe(party.national_id);
    expect(JSON.stringify(session.identityHeaders)).not.toContain('spoofed');
    const payload = await verifyAssertion(edge, session.identityHeaders['x-kenni-assertion']);
    expect(payload).toMatchObject({
      sub: party.sub,
      national_id: party.national_id,
      name: party.name,
      act: { sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name },
      delegation_type: delegation.delegation_type,
      auth: 'session',
    });
    expect(payload.auth_time).toEqual(expect.any(Number));

    // The demo origin's page, from the verified assertion: Þórður acting for the party.
    const html = await (await edge.fetch('/', { headers: NAVIGATION })).text();
    const kindText = kind === 'company' ? 'fyrirtæki / company' : 'einstaklingur / person';
    expect(html).toContain(
      `Halló, <strong>${THORDUR.name}</strong>, í umboði fyrir / acting for <strong class="subject">${party.name}</strong> (${kindText})`,
    );
    expect(html).toContain(
      'href="/auth/login?prompt=delegation&amp;return_to=/">Skipta um umboð / switch delegation</a>',
    );

    const me = (await (await edge.fetch('/auth/me')).json()) as Record<string, unknown>;
    expect(me).toMatchObject({
      sub: party.sub,
      claims: { sub: party.sub, national_id: party.national_id, name: party.name },
      actor: { sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name },
      delegation_type: delegation.delegation_type,
      auth_time: payload.auth_time,
    });
  });

  it('a JWT access token from a delegated sign-in, used as a bearer, gives the same headers', async () => {
    const delegation = DEV_DELEGATIONS.find((candidate) => candidate.key === 'company')!;
    const discovery = await loadDiscovery(String(bindings.KENNI_ISSUER));
    const { tokens } = await signInForTokens(
      discovery,
      { prompt: 'delegation', scope: `openid profile national_id ${API_SCOPE}` },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    const edge = createTestEdge();

    const bearer = await whoami(edge, { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' });

    expect(bearer.bearer).toBe(true);
    expect(bearer.identityHeaders).toMatchObject({
      'x-kenni-sub': delegation.party.sub,
      'x-kenni-national-id': delegation.party.national_id,
      'x-kenni-subject-kind': 'company',
      'x-kenni-auth': 'bearer',
      'x-kenni-actor-national-id': THORDUR.national_id,
      'x-kenni-actor-sub': THORDUR.sub,
      'x-kenni-delegation-type': delegation.delegation_type,
    });
    const payload = await verifyAssertion(edge, bearer.identityHeaders['x-kenni-assertion']);
    expect(payload).toMatchObject({ sub: delegation.party.sub, act: { national_id: THORDUR.national_id } });
  });

  it.each([
    ['without a prompt', 'return_to=/', undefined],
    ['acting for oneself on the picker', 'prompt=delegation&return_to=/', 'self'],
  ] as const)('signed in %s: Þórður is the subject and no actor header is sent', async (_label, query, choice) => {
    const { edge } = await signIn(query, choice);

    const session = await whoami(edge, SAME_ORIGIN_FETCH);

    expect(session.identityHeaders).toMatchObject({
      'x-kenni-sub': THORDUR.sub,
      'x-kenni-national-id': THORDUR.national_id,
      'x-kenni-subject-kind': 'person',
    });
    for (const name of ACTOR_HEADERS) expect(session.identityHeaders[name], name).toBeUndefined();
    const html = await (await edge.fetch('/', { headers: NAVIGATION })).text();
    expect(html).toContain(`Halló, <strong>${THORDUR.name}</strong>!`);
    expect(html).not.toContain('acting for');
    const me = (await (await edge.fetch('/auth/me')).json()) as Record<string, unknown>;
    expect(me).not.toHaveProperty('actor');
    expect(me).not.toHaveProperty('delegation_type');
  });
});
