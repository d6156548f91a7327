/**
 * Session control routes (issue 12, item 2): `GET /auth/sessions`,
 * `POST /auth/sessions/revoke` and `POST /auth/logout` with `everywhere=1`.
 * Listing shows only the caller's own sessions and no cookie value; a revoked
 * cookie gets 401 (APIs) or 302 to login (pages) on every route kind at once in
 * this isolate; cross-site requests are refused and change nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  expectJsonError,
  expectLoginRedirect,
  API_BEARER_CHALLENGE,
  expectSessionRequired,
  setUpGateway,
  type GatewaySetup,
} from '../gateway/helpers.ts';
import type { TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import {
  CROSS_SITE_FETCH,
  EVIL_ORIGIN,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SAME_ORIGIN_POST_HEADERS,
} from '../support/presets.ts';
import { browserOf, FIREFOX_LINUX, logIn, randomText, SAFARI_IPHONE } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

interface Listed {
  sessions: Array<{ id: string; created_at: number; last_seen_at: number; user_agent: string; current: boolean }>;
}

async function list(browser: TestEdge): Promise<Listed> {
  const response = await browser.fetch('/auth/sessions', { headers: SAME_ORIGIN_FETCH });
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return (await response.json()) as Listed;
}

function revoke(browser: TestEdge, body: string, type = 'application/json', headers = SAME_ORIGIN_POST_HEADERS) {
  return browser.fetch('/auth/sessions/revoke', {
    method: 'POST',
    headers: { ...headers, 'content-type': type },
    body,
  });
}

function me(browser: TestEdge): Promise<Response> {
  return browser.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
}

/** A gateway whose origin answers a page and an API path, and three browsers on the same edge (one isolate). */
async function setUp(): Promise<GatewaySetup & { browsers: TestEdge[] }> {
  const setup = await setUpGateway();
  await setup.routeOrigin('GET', '/account', { status: 200 });
  await setup.routeOrigin('GET', '/api/data', { json: { ok: true } });
  return { ...setup, browsers: [browserOf(setup.edge), browserOf(setup.edge), browserOf(setup.edge)] };
}

/** A login with the gateway provider's key. */
function signIn(
  setup: GatewaySetup,
  browser: TestEdge,
  options: Omit<Parameters<typeof logIn>[2], 'key'>,
): ReturnType<typeof logIn> {
  return logIn(browser, setup.provider, { ...options, key: setup.key });
}

/**
 * {@link setUp} with `laptop` and `phone` signed in as one person and the
 * third browser, when asked for, as that same person or as a stranger.
 */
async function setUpOnePerson(options: { phoneUserAgent?: string; third?: 'same person' | 'stranger' } = {}) {
  const setup = await setUp();
  const [laptop, phone, third] = setup.browsers as [TestEdge, TestEdge, TestEdge];
  const sub = randomText('sub-');
  await signIn(setup, laptop, { sub });
  await signIn(setup, phone, { sub, userAgent: options.phoneUserAgent });
  if (options.third) await signIn(setup, third, { sub: options.third === 'stranger' ? randomText('other-') : sub });
  return { setup, sub, laptop, phone, third };
}

/** Asserts that `browser`'s session is gone on every route kind: auth API, gateway page, gateway API, refresh. */
async function expectSignedOutEverywhere(browser: TestEdge, label: string): Promise<void> {
  await expectSessionRequired(await me(browser), `${label} /auth/me`);
  const cookie = `__Host-kenni-session=${browser.jar.get('__Host-kenni-session') ?? 'gone'}`;
  expectLoginRedirect(await browser.fetch('/account', { headers: { ...NAVIGATION, cookie } }), '/account', label);
  await expectSessionRequired(
    await browser.fetch('/api/data', { headers: { ...SAME_ORIGIN_FETCH, cookie } }),
    `${label} /api/data`,
    API_BEARER_CHALLENGE, // an API route: the challenge names the resource metadata (RFC 9728)
  );
  await expectSessionRequired(
    await browser.fetch('/auth/refresh', { method: 'POST', headers: { ...SAME_ORIGIN_POST_HEADERS, cookie } }),
    `${label} /auth/refresh`,
  );
}

/** Asserts that `browser`'s session works on a page and an API path. */
async function expectSignedIn(browser: TestEdge, label: string): Promise<void> {
  expect((await me(browser)).status, label).toBe(200);
  expect((await browser.fetch('/account', { headers: NAVIGATION })).status, label).toBe(200);
  expect((await browser.fetch('/api/data', { headers: SAME_ORIGIN_FETCH })).status, label).toBe(200);
}

describe('GET /auth/sessions', () => {
  it('answers 401 JSON without a session', async () => {
    const { edge } = await setUp();
    await expectSessionRequired(await edge.fetch('/auth/sessions', { headers: SAME_ORIGIN_FETCH }));
  });

  it("lists only the caller's sessions, marks the current one, and shows no cookie value or key hash", async () => {
    const setup = await setUp();
    const { browsers } = setup;
    const [laptop, phone, stranger] = browsers as [TestEdge, TestEdge, TestEdge];
    const sub = randomText('sub-');
    const mine = await signIn(setup, laptop, { sub, userAgent: FIREFOX_LINUX });
    const other = await signIn(setup, phone, { sub, userAgent: SAFARI_IPHONE });
    const foreign = await signIn(setup, stranger, { sub: randomText('other-') });

    const response = await laptop.fetch('/auth/sessions', { headers: SAME_ORIGIN_FETCH });
    const text = await response.clone().text();
    const { sessions } = (await response.json()) as Listed;

    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => [s.user_agent, s.current]).sort()).toEqual([
      ['Firefox on Linux', true],
      ['Safari on iOS', false],
    ]);
    for (const summary of sessions) {
      expect(summary.id).toMatch(/^[0-9a-f]{32}$/);
      expect(summary.created_at).toBeTypeOf('number');
      expect(summary.last_seen_at).toBeGreaterThanOrEqual(summary.created_at);
    }
    for (const hidden of [mine, other, foreign]) {
      expect(text).not.toContain(hidden.sessionId);
      expect(text).not.toContain(hidden.keyHash);
      expect(text).not.toContain(hidden.keyHash.slice(0, 32));
    }
    expect((await list(stranger)).sessions).toHaveLength(1);
  });

  it('on delegated sign-ins lists and revokes only the sessions of the person at the keyboard', async () => {
    const setup = await setUp();
    const [alice, bob, company] = setup.browsers as [TestEdge, TestEdge, TestEdge];
    const party = randomText('party-');
    // Alice and Bob act for the party; the party also signs in as itself.
    await signIn(setup, alice, { sub: party, claims: { actor: { sub: randomText('alice-'), name: 'Alice' } } });
    await signIn(setup, bob, { sub: party, claims: { actor: { sub: randomText('bob-'), name: 'Bob' } } });
    await signIn(setup, company, { sub: party });

    for (const browser of [alice, bob, company])
      expect((await list(browser)).sessions.map((s) => s.current)).toEqual([true]);

    for (const browser of [company, bob]) {
      const others = await revoke(browser, JSON.stringify({ others: true }));
      expect(await others.json()).toEqual({ revoked: 0 });
    }
    await expectSignedIn(alice, 'alice');
    await expectSignedIn(bob, 'bob');
    await expectSignedIn(company, 'the party itself');
  });
});

describe('POST /auth/sessions/revoke', () => {
  it('revokes one session by its handle: that cookie then fails on every route kind, at once, in this isolate', async () => {
    const {
      setup,
      laptop,
      phone,
      third: stranger,
    } = await setUpOnePerson({
      phoneUserAgent: SAFARI_IPHONE,
      third: 'stranger',
    });
    for (const browser of setup.browsers) await expectSignedIn(browser, 'before');
    const phoneHandle = (await list(laptop)).sessions.find((s) => !s.current)!.id;

    const response = await revoke(laptop, JSON.stringify({ id: phoneHandle }));

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ revoked: 1 });
    await expectSignedOutEverywhere(phone, 'revoked phone');
    await expectSignedIn(laptop, 'laptop');
    await expectSignedIn(stranger, 'stranger');
    expect((await list(laptop)).sessions.map((s) => s.current)).toEqual([true]);
  });

  it('revokes every other session with {"others": true} (JSON or form), keeping the current one', async () => {
    const { laptop, phone, third: tablet } = await setUpOnePerson({ third: 'same person' });

    const response = await revoke(laptop, 'others=true', 'application/x-www-form-urlencoded');

    expect(await response.json()).toEqual({ revoked: 2 });
    await expectSignedOutEverywhere(phone, 'phone');
    await expectSignedOutEverywhere(tablet, 'tablet');
    await expectSignedIn(laptop, 'laptop');
    expect(await (await revoke(laptop, JSON.stringify({ others: true }))).json()).toEqual({ revoked: 0 });
  });

  it("revokes nothing for an unknown handle or another user's handle: {revoked: 0}", async () => {
    const setup = await setUp();
    const { browsers } = setup;
    const [laptop, stranger] = browsers as [TestEdge, TestEdge];
    await signIn(setup, laptop, { sub: randomText('sub-') });
    await signIn(setup, stranger, { sub: randomText('other-') });
    const strangerHandle = (await list(stranger)).sessions[0]!.id;

    for (const id of [strangerHandle, 'a'.repeat(32)]) {
      const response = await revoke(laptop, JSON.stringify({ id }));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ revoked: 0 });
    }
    await expectSignedIn(stranger, 'stranger');
  });

  it('answers 400 invalid_request to a malformed body and revokes nothing', async () => {
    const { laptop, phone } = await setUpOnePerson();
    const handle = (await list(laptop)).sessions.find((s) => !s.current)!.id;
    const bodies: Array<[string, string]> = [
      ['{}', 'application/json'],
      ['not json', 'application/json'],
      ['[]', 'application/json'],
      [JSON.stringify({ id: 5 }), 'application/json'],
      [JSON.stringify({ id: 'abc' }), 'application/json'],
      [JSON.stringify({ id: handle.toUpperCase() }), 'application/json'],
      [JSON.stringify({ others: 'true' }), 'application/json'],
      [JSON.stringify({ id: handle, others: true }), 'application/json'],
      [JSON.stringify({ id: handle }), 'text/plain'],
      ['others=yes', 'application/x-www-form-urlencoded'],
      [JSON.stringify({ id: handle, pad: 'x'.repeat(2000) }), 'application/json'],
    ];

    for (const [body, type] of bodies) {
      const json = await expectJsonError(await revoke(laptop, body, type), 400, 'session_request_invalid', body);
      expect(json.error).toBe('invalid_request');
    }
    await expectSignedIn(phone, 'phone');
  });

  it('answers 401 JSON without a session', async () => {
    const { edge } = await setUp();
    await expectSessionRequired(await revoke(edge, JSON.stringify({ others: true })));
  });

  it('refuses a cross-site request (403) and revokes nothing', async () => {
    const { laptop, phone } = await setUpOnePerson();

    for (const headers of [
      { 'sec-fetch-site': 'cross-site', origin: EVIL_ORIGIN },
      { 'sec-fetch-site': 'same-site', origin: 'https://sub.edge.test' },
      { origin: EVIL_ORIGIN },
      CROSS_SITE_FETCH,
    ]) {
      const response = await revoke(laptop, JSON.stringify({ others: true }), 'application/json', headers as never);
      await expectJsonError(response, 403, 'cross_site_request', JSON.stringify(headers));
    }
    await expectSignedIn(phone, 'phone');
    await expectSignedIn(laptop, 'laptop');
  });
});

describe('POST /auth/logout with everywhere=1', () => {
  it("ends every session of the user (form field), then logs out at the provider; other users' sessions stay", async () => {
    const { setup, sub, laptop, phone, third: stranger } = await setUpOnePerson({ third: 'stranger' });

    const response = await laptop.fetch('/auth/logout', {
      method: 'POST',
      headers: { ...SAME_ORIGIN_POST_HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'everywhere=1',
    });

    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${setup.provider.issuer}/oidc/session/end`);
    expect(location.searchParams.get('id_token_hint')).toMatch(/^ey/);
    await expectSignedOutEverywhere(laptop, 'laptop');
    await expectSignedOutEverywhere(phone, 'phone');
    await expectSignedIn(stranger, 'stranger');
    expect(await setUpListCount(sub)).toBe(0);
  });

  it('accepts everywhere=1 in the query too; without it only this session ends', async () => {
    const { laptop, phone, third: tablet } = await setUpOnePerson({ third: 'same person' });

    await laptop.fetch('/auth/logout', { method: 'POST', headers: SAME_ORIGIN_POST_HEADERS });
    await expectSignedOutEverywhere(laptop, 'laptop');
    await expectSignedIn(phone, 'phone after a plain logout');

    const response = await phone.fetch('/auth/logout?everywhere=1', {
      method: 'POST',
      headers: SAME_ORIGIN_POST_HEADERS,
    });
    expect(response.status).toBe(302);
    await expectSignedOutEverywhere(phone, 'phone');
    await expectSignedOutEverywhere(tablet, 'tablet');
  });

  it('refuses a cross-site everywhere logout (403 confirmation page) and ends nothing', async () => {
    const { laptop, phone } = await setUpOnePerson();

    const response = await laptop.fetch('/auth/logout?everywhere=1', {
      method: 'POST',
      headers: {
        'sec-fetch-site': 'cross-site',
        origin: EVIL_ORIGIN,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'everywhere=1',
    });
    const getResponse = await laptop.fetch('/auth/logout?everywhere=1', {
      headers: { ...NAVIGATION, 'sec-fetch-site': 'cross-site' },
    });

    expect(response.status).toBe(403);
    expect(getResponse.status).toBe(403);
    await expectSignedIn(laptop, 'laptop');
    await expectSignedIn(phone, 'phone');
  });
});

/** How many `user:` index entries a subject still has. */
async function setUpListCount(sub: string): Promise<number> {
  const { listKv } = await import('./helpers.ts');
  return (await listKv(`user:${await sha256Hex(sub)}:`)).length;
}
