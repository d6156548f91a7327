/**
 * The log rule on the error paths (DESIGN.md "Logs"; issue 14 item 8): every
 * line the edge prints, whatever the console method, is one JSON event with a
 * level and passes the shared rule of `test/support/log-capture.ts`, also
 * when something fails: an internal error whose message holds a secret, an
 * invalid configuration, the provider down, the origin down, bearer tokens
 * refused and a callback that does not match a login.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createKenniEdge, handleError, kenniConfig, requireSession, type AppEnv } from '../../src/index.ts';
import { createTestEdge, EDGE_ORIGIN } from '../support/edge.ts';
import { captureLogs, expectEveryLineFollowsLogRule, type LogCapture } from '../support/log-capture.ts';
import { makeAccessTokenClaims, signJwt, generateTestKey } from '../support/token-factory.ts';
import {
  accessToken,
  API_AUDIENCE,
  closedPort,
  edgeWithOriginDown,
  expectErrorPage,
  expectJsonError,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
} from './helpers.ts';

const bindings = env as unknown as Env;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A random value with no digits, so only a leak (never chance) can break the digit rule. */
function secretWord(prefix: string): string {
  const letters = Array.from(crypto.getRandomValues(new Uint8Array(24)), (byte) =>
    String.fromCharCode(97 + (byte % 26)),
  ).join('');
  return `${prefix}-${letters}`;
}

/** The secrets every test's lines are checked against, besides its own. */
const CONFIGURED_SECRETS = [
  String(bindings.SESSION_SECRET),
  String(bindings.KENNI_CLIENT_SECRET),
  String(bindings.KENNI_M2M_CLIENT_SECRET),
];

/** The events of `capture`, without their time. */
function eventsOf(capture: LogCapture): Array<Record<string, unknown>> {
  return capture.events().map(({ time: _time, ...rest }) => rest);
}

describe('an internal error (an exception the edge does not know)', () => {
  /** The README's composition, with routes that throw what `thrown()` returns: one public, one behind a session. */
  function appThatThrows(thrown: () => unknown): Hono<AppEnv> {
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false }));
    app.get('/boom', () => {
      throw thrown();
    });
    app.get('/account/boom', requireSession(), () => {
      throw thrown();
    });
    app.onError(handleError);
    return app;
  }

  async function call(app: Hono<AppEnv>, path: string, headers: Record<string, string>): Promise<Response> {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(new URL(path, EDGE_ORIGIN), { headers }), bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  class DatabaseError extends Error {
    override name = 'DatabaseError';
  }

  it.each([
    ['an Error', (secret: string) => new Error(`connect failed: password=${secret}`), 'Error'],
    ['a TypeError', (secret: string) => new TypeError(`Cannot read properties of ${secret}`), 'TypeError'],
    ['an Error of its own class', (secret: string) => new DatabaseError(`row ${secret} locked`), 'DatabaseError'],
    [
      'an Error whose cause holds the secret',
      (secret: string) => new Error('wrapped', { cause: new Error(secret) }),
      'Error',
    ],
    [
      'an Error whose name holds the secret',
      (secret: string) => Object.assign(new Error('x'), { name: `Leaked ${secret}` }),
      'Error',
    ],
    ['a string', (secret: string) => `token ${secret}`, 'string'],
    ['a plain object', (secret: string) => ({ access_token: secret }), 'object'],
  ] as Array<[string, (secret: string) => unknown, string]>)(
    'thrown as %s: 500 without the message, one internal_error line naming only its class',
    async (_label, make, detail) => {
      const secret = secretWord('secret');
      const app = appThatThrows(() => make(secret));
      const capture = captureLogs();

      const json = await call(app, '/boom', { accept: 'application/json' });
      const page = await call(app, '/boom', NAVIGATION);

      expect(json.status).toBe(500);
      expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const body = await json.text();
      expect(JSON.parse(body)).toMatchObject({ error: 'internal_error', code: 'internal_error' });
      expect(body).not.toContain(secret);
      expect(page.status).toBe(500);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await page.text();
      expect(html).toContain('<code>internal_error</code>');
      expect(html).not.toContain(secret);

      expectEveryLineFollowsLogRule(capture.lines(), [secret, ...CONFIGURED_SECRETS]);
      const line = { level: 'error', event: 'internal_error', reason: 'internal_error', path: '/boom', detail };
      expect(eventsOf(capture)).toEqual([line, line]);
    },
  );

  it('behind a session: the line carries neither the message nor the session', async () => {
    const setup = await setUpGateway();
    const { sessionId, accessToken: sessionToken } = await signIn(setup);
    const secret = secretWord('secret');
    const app = appThatThrows(() => new Error(`failed for ${secret}`));
    const capture = captureLogs();

    const response = await call(app, '/account/boom', {
      ...SAME_ORIGIN_FETCH,
      cookie: `${SESSION_COOKIE}=${sessionId}`,
    });

    await expectJsonError(response, 500, 'internal_error');
    expectEveryLineFollowsLogRule(capture.lines(), [secret, sessionId, sessionToken, ...CONFIGURED_SECRETS]);
    expect(eventsOf(capture)).toEqual([
      { level: 'error', event: 'internal_error', reason: 'internal_error', path: '/account/boom', detail: 'Error' },
    ]);
  });
});

describe('the log rule on the other error paths', () => {
  it('holds for an invalid configuration: one config_invalid line, without the secret values', async () => {
    const shortSecret = secretWord('short');
    const clientSecret = secretWord('client');
    const m2mSecret = secretWord('m2m');
    const keyPart = secretWord('private');
    const edge = createTestEdge({
      SESSION_SECRET: shortSecret,
      KENNI_CLIENT_SECRET: clientSecret,
      KENNI_M2M_CLIENT_ID: undefined,
      KENNI_M2M_CLIENT_SECRET: m2mSecret,
      EDGE_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA', d: keyPart }),
      ORIGIN_URL: `not a url ${secretWord('origin')}`,
    });
    const capture = captureLogs();

    for (const [path, accept] of [
      ['/auth/login', 'text/html'],
      ['/auth/me', 'application/json'],
      ['/api/orders', 'application/json'],
      ['/', 'text/html'],
    ]) {
      expect((await edge.fetch(path!, { headers: { accept: accept! } })).status).toBe(500);
    }

    expectEveryLineFollowsLogRule(capture.lines(), [
      shortSecret,
      clientSecret,
      m2mSecret,
      keyPart,
      ...CONFIGURED_SECRETS,
    ]);
    expect(eventsOf(capture)).toEqual([
      expect.objectContaining({ level: 'error', event: 'config_invalid', reason: 'config_invalid' }),
    ]);
  });

  it('holds with the provider down: at login, for a bearer token, and for a session whose token needs a refresh', async () => {
    const setup = await setUpGateway();
    const { sessionId, accessToken: sessionToken } = await signIn(setup, { expiresIn: 30 });
    const bearer = await accessToken(setup);
    const port = await closedPort(setup.provider);
    // The same session store (KV) and secret; the provider unreachable. No SESSION_LOCKS: the Durable Object would read
    // the test's default bindings (the real local provider), not these overrides.
    const down = createTestEdge({
      KENNI_ISSUER: `http://127.0.0.1:${port}/dev-team.is`,
      ORIGIN_URL: setup.originUrl,
      SESSION_LOCKS: undefined,
    });
    const capture = captureLogs();

    await expectErrorPage(
      await down.fetch('/auth/login?return_to=/account', { headers: NAVIGATION }),
      502,
      'provider_unreachable',
    );
    const bearerResponse = await down.fetch('/api/orders', {
      headers: { ...SAME_ORIGIN_FETCH, authorization: `Bearer ${bearer}` },
    });
    await expectJsonError(bearerResponse, 502, 'provider_unreachable');
    const refreshed = await down.fetch('/api/orders', {
      headers: { ...SAME_ORIGIN_FETCH, cookie: `${SESSION_COOKIE}=${sessionId}` },
    });
    await expectJsonError(refreshed, 502, 'provider_unreachable');

    expectEveryLineFollowsLogRule(capture.lines(), [
      sessionId,
      sessionToken,
      bearer,
      'refresh-1',
      ...CONFIGURED_SECRETS,
    ]);
    expect(eventsOf(capture).map((entry) => [entry.event, entry.reason])).toEqual(
      expect.arrayContaining([
        ['login_failed', 'provider_unreachable'],
        ['bearer_rejected', 'provider_unreachable'],
      ]),
    );
  });

  it("holds with the origin down, for a page and for an API call that forwards the session's token", async () => {
    const setup = await setUpGateway();
    const { sessionId, accessToken: sessionToken } = await signIn(setup);
    const down = await edgeWithOriginDown(setup, '/app');
    const cookie = `${SESSION_COOKIE}=${sessionId}`;
    const capture = captureLogs();

    await expectErrorPage(
      await down.fetch('/account', { headers: { ...NAVIGATION, cookie } }),
      502,
      'origin_unreachable',
    );
    await expectJsonError(
      await down.fetch('/api/orders', { headers: { ...SAME_ORIGIN_FETCH, cookie } }),
      502,
      'origin_unreachable',
    );
    await expectJsonError(
      await down.fetch('/public/x', { headers: { ...SAME_ORIGIN_FETCH, authorization: `Bearer ${sessionToken}` } }),
      502,
      'origin_unreachable',
    );

    expectEveryLineFollowsLogRule(capture.lines(), [sessionId, sessionToken, ...CONFIGURED_SECRETS]);
    expect(eventsOf(capture).filter((entry) => entry.event === 'origin_failed')).toEqual([
      { level: 'warn', event: 'origin_failed', reason: 'origin_unreachable', status: 502, path: '/account' },
      { level: 'warn', event: 'origin_failed', reason: 'origin_unreachable', status: 502, path: '/api/orders' },
      { level: 'warn', event: 'origin_failed', reason: 'origin_unreachable', status: 502, path: '/public/x' },
    ]);
  });

  it('holds for bearer tokens refused on API paths and at /auth/verify', async () => {
    const setup = await setUpGateway();
    const stranger = await generateTestKey('ES256');
    const now = Math.floor(Date.now() / 1000);
    const good = await accessToken(setup);
    const tokens = [
      await accessToken(setup, { exp: now - 600, iat: now - 4200 }),
      await accessToken(setup, { aud: 'https://someone-else.example' }),
      await accessToken(setup, { iss: 'https://evil.example/dev-team.is' }),
      await accessToken(setup, { scope: 'openid' }),
      await signJwt(
        stranger,
        makeAccessTokenClaims({
          issuer: setup.provider.issuer,
          audience: API_AUDIENCE,
          scope: '@dev-team.is/api.read',
        }),
      ),
      `${good.slice(0, -6)}AAAAAA`,
      `not-a-jwt-${secretWord('opaque')}`,
    ];
    const capture = captureLogs();

    for (const token of tokens) {
      const api = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });
      expect([401, 403]).toContain(api.status);
      const verify = await setup.edge.fetch('/auth/verify?scope=%40dev-team.is%2Fapi.write', {
        headers: { authorization: `Bearer ${token}` },
      });
      expect([401, 403]).toContain(verify.status);
    }
    expect(
      (
        await setup.edge.fetch('/auth/verify?scope=%40dev-team.is%2Fapi.write', {
          headers: { authorization: `Bearer ${good}` },
        })
      ).status,
    ).toBe(403);

    expectEveryLineFollowsLogRule(capture.lines(), [
      ...tokens,
      good,
      ...tokens.map((token) => token.split('.')[2] ?? token),
      ...CONFIGURED_SECRETS,
    ]);
    const rejected = eventsOf(capture).filter((entry) => entry.event === 'bearer_rejected');
    expect(rejected).toHaveLength(2 * tokens.length + 1);
    for (const entry of rejected) expect(entry.level).toBe('warn');
  });

  it('holds for callbacks that match no login: the code, state and provider text stay out of the log', async () => {
    const setup = await setUpGateway();
    const code = secretWord('code');
    const state = secretWord('state');
    const description = secretWord('description');
    const capture = captureLogs();

    const forged = await setup.edge.fetch(
      `/auth/callback?code=${code}&state=${state}&iss=${encodeURIComponent(setup.provider.issuer)}`,
      { headers: NAVIGATION },
    );
    expect(forged.status).toBe(400);
    await setup.edge.fetch('/auth/login', { headers: NAVIGATION });
    const refused = await setup.edge.fetch(
      `/auth/callback?error=access_denied&error_description=${description}&state=${state}`,
      { headers: NAVIGATION },
    );
    expect(refused.status).toBe(400);

    expectEveryLineFollowsLogRule(capture.lines(), [code, state, description, ...CONFIGURED_SECRETS]);
    expect(eventsOf(capture).filter((entry) => entry.event === 'login_failed')).toHaveLength(2);
  });
});
