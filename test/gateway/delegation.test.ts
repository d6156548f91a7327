/**
 * Delegations at the gateway (issue 10, item 1), with a scripted provider: the
 * represented party is the subject (`X-Kenni-Sub`, `-National-Id`, `-Name`,
 * `-Subject-Kind`), the person acting has headers of their own only on
 * delegated requests, the assertion carries `act`, `delegation_type` and
 * `auth_time`, and a malformed `actor` is refused (bearer: 401 invalid_token).
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { EDGE_ORIGIN } from '../support/edge.ts';
import {
  accessToken,
  BEARER_CHALLENGE,
  identityHeadersOf,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from './helpers.ts';
import { sha256Hex } from '../support/hash.ts';
import { openedRecord } from '../support/session-record.ts';

const COMPANY = { sub: 'kenni-company-1', national_id: '5501692829', name: 'Ævarsson ehf.' };
const ACTOR = { sub: 'kenni-person-1', national_id: '0101302989', name: 'Þórður Ævarsson' };
const DELEGATED = { ...COMPANY, actor: ACTOR, delegation_type: 'c:procurator' };
const ACTOR_HEADERS = [
  'x-kenni-actor-national-id',
  'x-kenni-actor-name',
  'x-kenni-actor-sub',
  'x-kenni-delegation-type',
];

async function verifiedAssertion(setup: GatewaySetup, assertion: string | undefined) {
  const jwks = (await (await setup.edge.fetch('/auth/jwks.json', { jar: false })).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(assertion!, createLocalJWKSet(jwks), {
    issuer: EDGE_ORIGIN,
    audience: new URL(setup.originUrl).origin,
    algorithms: ['ES256'],
  });
  return payload;
}

describe('a delegated session', () => {
  it('sends the company as the subject and the acting person only as the actor, in headers and assertion', async () => {
    const setup = await setUpGateway();
    await signIn(setup, { claims: DELEGATED });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    const response = await setup.edge.fetch('/account', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity).toEqual({
      'x-kenni-sub': COMPANY.sub,
      'x-kenni-national-id': COMPANY.national_id,
      'x-kenni-name': encodeURIComponent(COMPANY.name),
      'x-kenni-subject-kind': 'company',
      'x-kenni-auth': 'session',
      'x-kenni-actor-national-id': ACTOR.national_id,
      'x-kenni-actor-name': encodeURIComponent(ACTOR.name),
      'x-kenni-actor-sub': ACTOR.sub,
      'x-kenni-delegation-type': 'c:procurator',
      'x-kenni-assertion': expect.stringMatching(/^eyJ/),
    });
    const payload = await verifiedAssertion(setup, identity['x-kenni-assertion']);
    expect(payload).toMatchObject({
      sub: COMPANY.sub,
      national_id: COMPANY.national_id,
      name: COMPANY.name,
      act: ACTOR,
      delegation_type: 'c:procurator',
      auth: 'session',
    });
    expect(payload.auth_time).toEqual(expect.any(Number));
  });

  it('/auth/me names the actor apart from the subject, with delegation_type and auth_time', async () => {
    const setup = await setUpGateway();
    await signIn(setup, { claims: DELEGATED });

    const body = (await (await setup.edge.fetch('/auth/me')).json()) as Record<string, unknown>;

    expect(body).toMatchObject({ sub: COMPANY.sub, actor: ACTOR, delegation_type: 'c:procurator' });
    expect(body.claims).toMatchObject({ sub: COMPANY.sub, national_id: COMPANY.national_id, name: COMPANY.name });
    expect(body.auth_time).toEqual(expect.any(Number));
  });

  it('keeps auth_time, acr, amr and sid in the session record, outside the identity claims and headers', async () => {
    const setup = await setUpGateway();
    const protocol = { auth_time: 1_800_000_000, acr: 'urn:kenni:high', amr: ['audkenni-app'], sid: 'sid-123' };
    const { sessionId } = await signIn(setup, { claims: { ...DELEGATED, ...protocol } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    const record = await openedRecord(`session:${await sha256Hex(sessionId)}`);
    expect(record).toMatchObject(protocol);
    for (const name of Object.keys(protocol)) expect(record!.claims).not.toHaveProperty(name);

    await setup.edge.fetch('/account', { headers: NAVIGATION });
    const [request] = await setup.originRequests();
    const sent = JSON.stringify(identityHeadersOf(request!));
    for (const value of ['urn:kenni:high', 'audkenni-app', 'sid-123']) expect(sent).not.toContain(value);
  });
});

describe('a sign-in for oneself', () => {
  it('sends the person as subject (kind person) and no actor header at all', async () => {
    const setup = await setUpGateway();
    await signIn(setup, { claims: ACTOR });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-national-id']).toBe(ACTOR.national_id);
    expect(identity['x-kenni-subject-kind']).toBe('person');
    for (const name of ACTOR_HEADERS) expect(identity[name], name).toBeUndefined();
    const payload = await verifiedAssertion(setup, identity['x-kenni-assertion']);
    expect(payload).not.toHaveProperty('act');
    expect(payload).not.toHaveProperty('delegation_type');
  });

  it('sends no X-Kenni-Subject-Kind when the national id tells no kind', async () => {
    const setup = await setUpGateway();
    await signIn(setup, { claims: { national_id: '9901302989' } });
    await setup.routeOrigin('GET', '/account', { status: 200 });

    await setup.edge.fetch('/account', { headers: NAVIGATION });

    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-national-id']).toBe('9901302989');
    expect(request!.headers['x-kenni-subject-kind']).toBeUndefined();
  });
});

describe('spoofed actor headers', () => {
  const spellings = [
    'X-Kenni-Actor-National-Id',
    'x-kenni-actor-national-id',
    'X-KENNI-ACTOR-NATIONAL-ID',
    'x_kenni_actor_national_id',
    'X_Kenni_Actor_Name',
    'x-kenni_actor-sub',
    'x_KENNI-Delegation_Type',
    'X-Kenni-Subject-Kind',
    'x_kenni_subject_kind',
  ];
  const spoofed = Object.fromEntries(spellings.map((name, index) => [name, `spoofed-${index}`]));

  it.each([
    ['a public path', '/public/x', {}],
    ['a page of a person signed in for themselves', '/account', NAVIGATION],
    ['a delegated session on the API', '/api/x', SAME_ORIGIN_FETCH],
  ] as const)('are stripped in every case and _ spelling on %s', async (label, path, headers) => {
    const setup = await setUpGateway();
    if (path !== '/public/x') await signIn(setup, { claims: label.includes('delegated') ? DELEGATED : ACTOR });
    await setup.routeOrigin('GET', path, { status: 200 });

    const response = await setup.edge.fetch(path, { headers: { ...headers, ...spoofed } });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    expect(JSON.stringify(request!.headers)).not.toContain('spoofed-');
    if (label.includes('delegated')) expect(request!.headers['x-kenni-actor-national-id']).toBe(ACTOR.national_id);
    else expect(request!.headers['x-kenni-actor-national-id']).toBeUndefined();
  });
});

describe('a bearer access token from a delegated sign-in', () => {
  it('gives the same identity headers and assertion as the session', async () => {
    const setup = await setUpGateway();
    const token = await accessToken(setup, { ...DELEGATED, auth_time: 1_800_000_000 });
    await setup.routeOrigin('GET', '/api/orders', { status: 200 });

    const response = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    const [request] = await setup.originRequests();
    const identity = identityHeadersOf(request!);
    expect(identity).toMatchObject({
      'x-kenni-sub': COMPANY.sub,
      'x-kenni-national-id': COMPANY.national_id,
      'x-kenni-subject-kind': 'company',
      'x-kenni-auth': 'bearer',
      'x-kenni-actor-national-id': ACTOR.national_id,
      'x-kenni-actor-name': encodeURIComponent(ACTOR.name),
      'x-kenni-actor-sub': ACTOR.sub,
      'x-kenni-delegation-type': 'c:procurator',
    });
    const payload = await verifiedAssertion(setup, identity['x-kenni-assertion']);
    expect(payload).toMatchObject({
      sub: COMPANY.sub,
      act: ACTOR,
      delegation_type: 'c:procurator',
      auth_time: 1_800_000_000,
    });
  });

  it.each([
    ['a string', 'Þórður'],
    ['an array', [ACTOR]],
    ['an object with a number national_id', { ...ACTOR, national_id: 101302989 }],
  ])(
    'with an actor that is %s is refused: 401 invalid_token, at the gateway and at /auth/verify',
    async (_label, actor) => {
      const setup = await setUpGateway();
      const token = await accessToken(setup, { ...COMPANY, actor });
      await setup.routeOrigin('GET', '/api/orders', { status: 200 });

      for (const path of ['/api/orders', '/auth/verify']) {
        const response = await setup.edge.fetch(path, { headers: { authorization: `Bearer ${token}` } });
        expect(response.status, path).toBe(401);
        expect(response.headers.get('www-authenticate')).toMatch(
          new RegExp(`^${BEARER_CHALLENGE}, error="invalid_token"`),
        );
        expect(await response.json()).toMatchObject({ error: 'invalid_token', code: 'bearer_invalid' });
      }
      expect(await setup.originRequests()).toEqual([]);
    },
  );
});
