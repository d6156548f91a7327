/**
 * Opaque access tokens (issue 10, item 4) against the scripted provider:
 * introspection (RFC 7662) with the client's credentials, only `active: true`
 * (the boolean) with a future `exp` and the right `iss` accepted, answers cached
 * by the token's hash (positive ≤ 60 s and ≤ `exp`, negative ≤ 10 s), one
 * introspection in flight per token, provider outages as 502 (never a 200),
 * and a per-isolate bound on introspections of unknown credentials.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  INTROSPECTION_BURST,
  INTROSPECTION_PER_SECOND,
  OPAQUE_ACCESS_TOKEN,
} from '../../src/provider/introspection.ts';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { testEvents, testLines } from '../support/log-capture.ts';
import { createScriptedProvider, type Reply, type ScriptedProvider } from '../support/scripted-provider.ts';
import { generateTestKey, makeAccessTokenClaims, signJwt } from '../support/token-factory.ts';

const CLIENT_ID = '@t.is/web';
const CLIENT_SECRET = 'we:b/s3cret+%=';
const READ = '@t.is/orders.read';
const NOW = new Date('2026-06-17T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const INTROSPECTION = '/oidc/token/introspection';
const PERSON = { sub: 'kenni-sub-1', national_id: '0101302989', name: 'Þórður Ævarsson' };

interface Setup {
  provider: ScriptedProvider;
  edge: TestEdge;
  /** Scripts the introspection endpoint's answer (JSON body, 200). */
  answer(json: Record<string, unknown> | Reply): Promise<void>;
  /** Introspection requests the provider received. */
  calls(): Promise<number>;
}

async function setUp(vars: Record<string, unknown> = {}, discovery: Record<string, unknown> = {}): Promise<Setup> {
  const provider = await createScriptedProvider();
  await provider.serveDiscovery({ introspection_endpoint: provider.url(INTROSPECTION), ...discovery });
  await provider.serveJwks([await generateTestKey('ES256')]);
  await provider.route('GET', '/origin/api/orders', { json: { orders: [] } });
  const edge = createTestEdge({
    KENNI_ISSUER: provider.issuer,
    KENNI_CLIENT_ID: CLIENT_ID,
    KENNI_CLIENT_SECRET: CLIENT_SECRET,
    KENNI_API_SCOPE: READ,
    ORIGIN_URL: provider.url('/origin'),
    ...vars,
  });
  return {
    provider,
    edge,
    answer: (json) =>
      provider.route('POST', INTROSPECTION, 'status' in json || 'json' in json ? (json as Reply) : { json }),
    calls: async () => (await provider.requests({ method: 'POST', path: INTROSPECTION })).length,
  };
}

/** A fresh credential shaped like node-oidc-provider's opaque access tokens (32 random bytes, base64url). */
function opaqueToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** An active answer for the person with `READ`, expiring in `seconds`. */
function active(overrides: Record<string, unknown> = {}, seconds = 3600): Record<string, unknown> {
  return {
    active: true,
    ...PERSON,
    client_id: CLIENT_ID,
    scope: `openid ${READ}`,
    token_type: 'Bearer',
    iat: NOW_S - 10,
    exp: Math.floor(Date.now() / 1000) + seconds,
    ...overrides,
  };
}

function verify(edge: TestEdge, token: string): Promise<Response> {
  return edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` } });
}

async function expectRefused(response: Response, reason: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="invalid_token"/);
  expect(response.headers.get('x-kenni-sub')).toBeNull();
  expect(await response.json()).toMatchObject({ error: 'invalid_token', code: 'bearer_invalid' });
  expect(
    testEvents()
      .filter((e) => e.event === 'bearer_rejected')
      .at(-1),
  ).toMatchObject({ reason, status: 401 });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('opaque access tokens: what is accepted', () => {
  it('accepts an active token at /auth/verify, after one introspection authenticated as the client (RFC 6749 §2.3.1)', async () => {
    const { edge, answer, provider } = await setUp();
    await answer(active());
    const token = opaqueToken();

    const response = await verify(edge, token);

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe(PERSON.sub);
    const { claims } = (await response.json()) as { claims: Record<string, unknown> };
    expect(claims).toMatchObject({ ...PERSON, scope: `openid ${READ}`, client_id: CLIENT_ID });
    expect(claims).not.toHaveProperty('active');
    const [request, ...more] = await provider.requests({ method: 'POST', path: INTROSPECTION });
    expect(more).toEqual([]);
    expect(request!.form).toEqual({ token, token_type_hint: 'access_token' });
    // client_secret_basic: id and secret form-encoded before base64, so "@", "/" and ":" survive.
    const [scheme, credentials] = request!.headers.authorization!.split(' ');
    expect(scheme).toBe('Basic');
    const [id, secret, ...rest] = atob(credentials!).split(':');
    expect(rest).toEqual([]);
    expect(id).not.toMatch(/[@/]/);
    expect([decodeURIComponent(id!), decodeURIComponent(secret!)]).toEqual([CLIENT_ID, CLIENT_SECRET]);
    expect(request!.headers.accept).toBe('application/json');
  });

  it('forwards an API request with the same identity headers as a JWT: subject, scopes, auth "bearer"', async () => {
    const { edge, answer, provider } = await setUp();
    await answer(active());
    const token = opaqueToken();

    const response = await edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    const [forwarded] = await provider.requests({ method: 'GET', path: '/origin/api/orders' });
    expect(forwarded!.headers['x-kenni-sub']).toBe(PERSON.sub);
    expect(forwarded!.headers['x-kenni-national-id']).toBe(PERSON.national_id);
    expect(forwarded!.headers['x-kenni-name']).toBe(encodeURIComponent(PERSON.name));
    expect(forwarded!.headers['x-kenni-auth']).toBe('bearer');
    expect(forwarded!.headers['x-kenni-scope']).toBe(`openid ${READ}`);
    expect(forwarded!.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('still requires KENNI_API_SCOPE: an active token without it is 403 insufficient_scope', async () => {
    const { edge, answer } = await setUp();
    await answer(active({ scope: 'openid profile' }));

    const response = await edge.fetch('/api/orders', { headers: { authorization: `Bearer ${opaqueToken()}` } });

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain(`error="insufficient_scope"`);
    expect(response.headers.get('www-authenticate')).toContain(`scope="${READ}"`);
  });
});

describe('opaque access tokens: refusals', () => {
  it.each([
    ['inactive', { active: false }, 'inactive'],
    ['active as the string "true"', { ...active(), active: 'true' }, 'introspection_invalid'],
    ['active missing', { ...active(), active: undefined }, 'introspection_invalid'],
    ['{"active": false, "exp": future}', { active: false, exp: NOW_S + 3600, sub: PERSON.sub }, 'inactive'],
    ['expired', active({ exp: NOW_S - 1 }), 'expired'],
    ['expiring this very second', active({ exp: NOW_S }), 'expired'],
    ['exp missing', active({ exp: undefined }), 'exp_missing'],
    ['exp a string', active({ exp: String(NOW_S + 3600) }), 'exp_missing'],
    ['another issuer', active({ iss: 'https://evil.example/t.is' }), 'wrong_issuer'],
    ['a refresh token', active({ token_type: 'refresh_token' }), 'not_an_access_token'],
    [
      'no token_type (how node-oidc-provider answers for a refresh token)',
      active({ token_type: undefined }),
      'not_an_access_token',
    ],
    ['a DPoP-bound token sent as Bearer', active({ token_type: 'DPoP' }), 'not_an_access_token'],
    ['not valid yet', active({ nbf: NOW_S + 3600 }), 'not_yet_valid'],
  ])('refuses %s with 401 invalid_token', async (_label, json, reason) => {
    const { edge, answer, calls } = await setUp();
    await answer(JSON.parse(JSON.stringify(json)) as Record<string, unknown>);

    await expectRefused(await verify(edge, opaqueToken()), reason);
    expect(await calls()).toBe(1);
  });

  it('accepts the issuer when it is named exactly', async () => {
    const { edge, answer, provider } = await setUp();
    await answer(active({ iss: provider.issuer }));
    expect((await verify(edge, opaqueToken())).status).toBe(200);
  });

  it('answers 502 provider_misconfigured (not a 200, not a 401) when the provider refuses our client', async () => {
    const { edge, answer } = await setUp();
    await answer({ status: 401, json: { error: 'invalid_client' } });

    const response = await verify(edge, opaqueToken());

    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ code: 'provider_misconfigured' });
  });

  it('remembers a refusal for at most 10 s', async () => {
    const { edge, answer, calls } = await setUp();
    await answer({ active: false });
    const token = opaqueToken();

    for (let i = 0; i < 20; i++) expect((await verify(edge, token)).status).toBe(401);
    expect(await calls()).toBe(1);
    vi.setSystemTime(NOW.getTime() + 10_000);
    await answer(active());
    expect((await verify(edge, token)).status).toBe(200);
    expect(await calls()).toBe(2);
  });

  it('never logs the token, only a reason', async () => {
    const { edge, answer } = await setUp();
    await answer({ active: false });
    const token = opaqueToken();
    await verify(edge, token);
    await edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });
    const text = testLines()
      .map((line) => line.text)
      .join('\n');
    expect(text).toContain('"reason":"inactive"');
    expect(text).not.toContain(token);
  });
});

describe('which credentials are introspected', () => {
  it('never sends a JWT to introspection, valid or not', async () => {
    const { edge, answer, calls, provider } = await setUp();
    await answer(active());
    const key = await generateTestKey('ES256');
    await provider.serveJwks([key]);
    const claims = makeAccessTokenClaims({ issuer: provider.issuer, audience: `${CLIENT_ID}-api`, scope: READ });
    expect((await verify(edge, await signJwt(key, claims))).status).toBe(200);
    const stranger = await generateTestKey('ES256');
    expect((await verify(edge, await signJwt(stranger, claims))).status).toBe(401);
    expect(await calls()).toBe(0);
  });

  it('refuses 1,000 distinct random credentials of other shapes without a single introspection', async () => {
    const { edge, answer, calls } = await setUp();
    await answer(active());
    const shapes = [
      (t: string) => t.slice(0, 42),
      (t: string) => `${t}A`,
      (t: string) => `${t.slice(0, 20)}.${t.slice(21)}`,
      (t: string) => `${t.slice(0, 42)}+`,
      (t: string) => `${t}${t}`,
    ];
    for (let i = 0; i < 1000; i++) {
      const token = shapes[i % shapes.length]!(opaqueToken());
      expect(OPAQUE_ACCESS_TOKEN.test(token)).toBe(false);
      expect((await verify(edge, token)).status).toBe(401);
    }
    expect(await calls()).toBe(0);
  });

  it(`bounds introspections of unknown credentials per isolate: 1,000 distinct random 43-character ones cost ${INTROSPECTION_BURST} provider calls`, async () => {
    const { edge, answer, calls } = await setUp();
    await answer({ active: false });
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const response = await verify(edge, opaqueToken());
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status === 503) {
        expect(response.headers.get('retry-after')).toBe('1');
        expect(await response.json()).toMatchObject({ code: 'introspection_limited' });
      }
    }
    // The bucket holds INTROSPECTION_BURST calls and the clock stands still: nothing refills.
    expect(await calls()).toBe(INTROSPECTION_BURST);
    expect(Object.fromEntries(statuses)).toEqual({ 401: INTROSPECTION_BURST, 503: 1000 - INTROSPECTION_BURST });
    expect(testEvents().filter((e) => e.reason === 'introspection_limited').length).toBe(1000 - INTROSPECTION_BURST);

    // One second later the bucket has refilled by INTROSPECTION_PER_SECOND calls.
    vi.setSystemTime(NOW.getTime() + 1000);
    for (let i = 0; i < 100; i++) await verify(edge, opaqueToken());
    expect(await calls()).toBe(INTROSPECTION_BURST + INTROSPECTION_PER_SECOND);
  });

  it('refuses opaque tokens without a call when KENNI_INTROSPECTION=off', async () => {
    const { edge, answer, calls } = await setUp({ KENNI_INTROSPECTION: 'off' });
    await answer(active());
    await expectRefused(await verify(edge, opaqueToken()), 'introspection_off');
    expect(await calls()).toBe(0);
  });

  it('refuses opaque tokens without a call when discovery has no introspection_endpoint', async () => {
    const { edge, answer, calls } = await setUp({}, { introspection_endpoint: undefined });
    await answer(active());
    await expectRefused(await verify(edge, opaqueToken()), 'introspection_unavailable');
    expect(await calls()).toBe(0);
  });
});

describe('the introspection cache', () => {
  it('1,000 requests with one token cost one introspection per cache lifetime (60 s)', async () => {
    const { edge, answer, calls } = await setUp();
    await answer(active());
    const token = opaqueToken();
    const burst = async () => {
      for (let i = 0; i < 1000; i++) expect((await verify(edge, token)).status).toBe(200);
    };

    await burst();
    expect(await calls()).toBe(1);
    vi.setSystemTime(NOW.getTime() + 59_000);
    await burst();
    expect(await calls()).toBe(1);
    vi.setSystemTime(NOW.getTime() + 60_000);
    await burst();
    expect(await calls()).toBe(2);
  });

  it('trusts a positive answer no longer than the token’s exp', async () => {
    const { edge, answer, calls } = await setUp();
    await answer(active({}, 5));
    const token = opaqueToken();
    expect((await verify(edge, token)).status).toBe(200);
    vi.setSystemTime(NOW.getTime() + 4_000);
    expect((await verify(edge, token)).status).toBe(200);
    expect(await calls()).toBe(1);
    vi.setSystemTime(NOW.getTime() + 5_000);
    await answer({ active: false });
    await expectRefused(await verify(edge, token), 'inactive');
    expect(await calls()).toBe(2);
  });

  it('sends one introspection for 50 concurrent requests with one token', async () => {
    const { edge, answer, calls } = await setUp();
    await answer(active());
    const token = opaqueToken();
    const responses = await Promise.all(Array.from({ length: 50 }, () => verify(edge, token)));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(await calls()).toBe(1);
  });

  it('shares answers with a cold isolate through the Cache API, sealed: neither the token nor the claims readable', async () => {
    const { edge, answer, calls, provider } = await setUp();
    await answer(active());
    const token = opaqueToken();
    expect((await verify(edge, token)).status).toBe(200);

    expect((await verify(coldIsolate(edge), token)).status).toBe(200);
    expect(await calls()).toBe(1);
    const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)))]
      .map((byte) => byte.toString(16).padStart(2, '0'))
      .join('');
    const name = `introspection ${provider.issuer} ${CLIENT_ID} ${hash}`;
    const entry = await caches.default.match(`https://kenni-edge.cache.internal/${encodeURIComponent(name)}`);
    const text = await entry!.text();
    expect(text).toMatch(/^kenni-edge-cache-v1\./);
    expect(text).not.toContain(token);
    expect(text).not.toContain(PERSON.national_id);
    expect(text).not.toContain(PERSON.sub);
  });

  it('provider down, cold cache: 502 provider_unreachable, never a 200', async () => {
    const { edge, answer } = await setUp();
    await answer({ status: 503, body: 'down' });
    for (let i = 0; i < 3; i++) {
      const response = await verify(edge, opaqueToken());
      expect(response.status).toBe(502);
      expect(await response.json()).toMatchObject({ code: 'provider_unreachable' });
    }
  });

  it('provider down, warm cache: the cached answer serves (also in a cold isolate) until it ends, then 502', async () => {
    const { edge, answer } = await setUp();
    await answer(active());
    const token = opaqueToken();
    expect((await verify(edge, token)).status).toBe(200);

    await answer({ status: 503, body: 'down' });
    vi.setSystemTime(NOW.getTime() + 30_000);
    expect((await verify(edge, token)).status).toBe(200);
    expect((await verify(coldIsolate(edge), token)).status).toBe(200);
    vi.setSystemTime(NOW.getTime() + 60_000);
    expect((await verify(edge, token)).status).toBe(502);
    expect((await verify(coldIsolate(edge), token)).status).toBe(502);
  });
});
