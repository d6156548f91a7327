/**
 * The HTTP surface of bearer verification (issue #3): `GET /auth/verify` for
 * forward auth, `API_PATHS` routes of the gateway, and `requireBearer()` used
 * standalone in an app's own Hono router. RFC 6750 answers: 400
 * `invalid_request` for a malformed `Authorization` header, 401 with a bare
 * challenge when no bearer token was sent, 401 `invalid_token`, 403
 * `insufficient_scope` with the `scope` attribute; and the `bearer_rejected`
 * log line, which names a reason and never the token.
 */
import { env } from 'cloudflare:test';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { handleError, loadConfig, requireBearer, type AppEnv, type Env } from '../../src/index.ts';
import {
  accessToken,
  API_SCOPE,
  CLIENT_ID,
  freezeDateEachTest,
  loggedEvents,
  NOW,
  RESOURCE_METADATA_PARAM,
  startKeyedProvider,
} from '../support/bearer.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { testLines } from '../support/log-capture.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import { TEST_SUBJECT, type Claims, type TestKey } from '../support/token-factory.ts';

const READ = API_SCOPE;
const WRITE = '@t.is/orders.write';

const MALFORMED_DESCRIPTION = 'The Authorization header is not "Bearer <token>".';
const MALFORMED_CHALLENGE = `Bearer realm="kenni-edge", error="invalid_request", error_description="The Authorization header is not \\"Bearer <token>\\".", ${RESOURCE_METADATA_PARAM}`;
const BARE_CHALLENGE = `Bearer realm="kenni-edge", ${RESOURCE_METADATA_PARAM}`;

interface Setup {
  provider: ScriptedProvider;
  key: TestKey;
  edge: TestEdge;
  vars: Record<string, unknown>;
  /** A valid access token with `scope` (a string, or `undefined` for none) and claim overrides. */
  token(scope: string | undefined, overrides?: Claims): Promise<string>;
}

async function setUp(vars: Record<string, unknown> = {}): Promise<Setup> {
  const { provider, key } = await startKeyedProvider({ alg: 'ES256' });
  await provider.route('GET', '/origin/api/orders', { json: { orders: [] } });
  const allVars = {
    KENNI_ISSUER: provider.issuer,
    KENNI_CLIENT_ID: CLIENT_ID,
    KENNI_API_SCOPE: READ,
    ORIGIN_URL: provider.url('/origin'),
    ...vars,
  };
  const edge = createTestEdge(allVars);
  return {
    provider,
    key,
    edge,
    vars: allVars,
    // `scope: undefined` leaves the claim out.
    token: (scope, overrides = {}) => accessToken(provider, key, { ...overrides, scope }),
  };
}

freezeDateEachTest();

function verify(edge: TestEdge, authorization: string | undefined, query = ''): Promise<Response> {
  return edge.fetch(`/auth/verify${query}`, authorization === undefined ? {} : { headers: { authorization } });
}

/** The description names no scope: the `scope` attribute names them, once (client-supplied values are reflected once, cut short). */
const INSUFFICIENT_DESCRIPTION = 'The token lacks a required scope (named in scope).';

async function expectInsufficientScope(response: Response, required: string): Promise<void> {
  const description = INSUFFICIENT_DESCRIPTION;
  expect(response.status).toBe(403);
  expect(response.headers.get('www-authenticate')).toBe(
    `Bearer realm="kenni-edge", error="insufficient_scope", error_description="${description}", scope="${required}", ${RESOURCE_METADATA_PARAM}`,
  );
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-kenni-sub')).toBeNull();
  expect(await response.json()).toEqual({
    error: 'insufficient_scope',
    error_description: description,
    code: 'insufficient_scope',
    scope: required,
  });
}

async function expectAccepted(response: Response, scope?: string): Promise<void> {
  expect(response.status).toBe(200);
  expect(response.headers.get('www-authenticate')).toBeNull();
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-kenni-sub')).toBe(TEST_SUBJECT);
  const body = (await response.json()) as { claims: Claims };
  expect(body.claims.sub).toBe(TEST_SUBJECT);
  if (scope !== undefined) expect(body.claims.scope).toBe(scope);
}

async function expectMalformed(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect(response.headers.get('www-authenticate')).toBe(MALFORMED_CHALLENGE);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(await response.json()).toEqual({
    error: 'invalid_request',
    error_description: MALFORMED_DESCRIPTION,
    code: 'bearer_malformed',
  });
}

async function expectNoCredentials(response: Response, code: string, description: string): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(BARE_CHALLENGE);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ code, error_description: description });
  // No credentials is not an invalid token: the body names what is missing, as the bare challenge does.
  expect(body.error).toBe(code);
}

describe('required scopes', () => {
  it('refuses a token without KENNI_API_SCOPE with 403 insufficient_scope naming the scope', async () => {
    const setup = await setUp();

    await expectInsufficientScope(await verify(setup.edge, `Bearer ${await setup.token('openid profile')}`), READ);
    expect(loggedEvents('bearer_rejected').map((entry) => entry.reason)).toEqual(['insufficient_scope']);
  });

  it('names every configured scope in the challenge', async () => {
    const setup = await setUp({ KENNI_API_SCOPE: `${READ} ${WRITE}` });

    await expectInsufficientScope(await verify(setup.edge, `Bearer ${await setup.token(READ)}`), `${READ} ${WRITE}`);
  });

  it('matches scopes exactly, so a longer scope with the same prefix does not count', async () => {
    const setup = await setUp();

    await expectInsufficientScope(
      await verify(setup.edge, `Bearer ${await setup.token(`${READ}only ${READ.toUpperCase()}`)}`),
      READ,
    );
  });

  it('requires the extra scopes named in ?scope= on top of KENNI_API_SCOPE', async () => {
    const setup = await setUp();
    const readOnly = await setup.token(`openid ${READ}`);

    await expectInsufficientScope(
      await verify(setup.edge, `Bearer ${readOnly}`, `?scope=${encodeURIComponent(WRITE)}`),
      `${READ} ${WRITE}`,
    );
    await expectAccepted(
      await verify(
        setup.edge,
        `Bearer ${await setup.token(`${READ} ${WRITE}`)}`,
        `?scope=${encodeURIComponent(WRITE)}`,
      ),
      `${READ} ${WRITE}`,
    );
    await expectAccepted(await verify(setup.edge, `Bearer ${readOnly}`), `openid ${READ}`);
  });

  it('reads several space-separated ?scope= values, and a repeated scope parameter', async () => {
    const setup = await setUp({ KENNI_API_SCOPE: undefined });
    const readOnly = await setup.token(READ);
    const both = await setup.token(`${WRITE} ${READ}`);

    await expectInsufficientScope(
      await verify(setup.edge, `Bearer ${readOnly}`, `?scope=${encodeURIComponent(`${READ} ${WRITE}`)}`),
      `${READ} ${WRITE}`,
    );
    await expectInsufficientScope(
      await verify(
        setup.edge,
        `Bearer ${readOnly}`,
        `?scope=${encodeURIComponent(READ)}&scope=${encodeURIComponent(WRITE)}`,
      ),
      `${READ} ${WRITE}`,
    );
    await expectAccepted(
      await verify(setup.edge, `Bearer ${both}`, `?scope=${encodeURIComponent(READ)}+${encodeURIComponent(WRITE)}`),
    );
    await expectAccepted(
      await verify(
        setup.edge,
        `Bearer ${both}`,
        `?scope=${encodeURIComponent(READ)}&scope=${encodeURIComponent(WRITE)}`,
      ),
    );
  });

  it('reflects a 100 KB ?scope= once and cut short: whole scopes, at most 256 characters, in the challenge and the body', async () => {
    const setup = await setUp();
    const readOnly = await setup.token(READ);
    const many = Array.from({ length: 10_000 }, (_, index) => `junk${String(index).padStart(5, '0')}`).join(' '); // ~100 KB
    const one = 'x'.repeat(100_000);

    for (const scope of [many, one, `${WRITE} ${one}`]) {
      const response = await verify(setup.edge, `Bearer ${readOnly}`, `?scope=${encodeURIComponent(scope)}`);
      expect(response.status).toBe(403);
      const challenge = response.headers.get('www-authenticate')!;
      const reflected = /scope="([^"]*)", resource_metadata="[^"]*"$/.exec(challenge)![1]!;
      expect(reflected.length).toBeLessThanOrEqual(256);
      expect(reflected.startsWith(READ)).toBe(true);
      // Whole scope values only, each one that was required.
      for (const value of reflected.split(' ')) expect([READ, ...scope.split(' ')]).toContain(value);
      expect(challenge).toBe(
        `Bearer realm="kenni-edge", error="insufficient_scope", error_description="${INSUFFICIENT_DESCRIPTION}", scope="${reflected}", ${RESOURCE_METADATA_PARAM}`,
      );
      const body = await response.text();
      expect(body.length).toBeLessThan(600);
      expect(JSON.parse(body)).toEqual({
        error: 'insufficient_scope',
        error_description: INSUFFICIENT_DESCRIPTION,
        code: 'insufficient_scope',
        scope: reflected,
      });
    }
    const first = await verify(setup.edge, `Bearer ${readOnly}`, `?scope=${encodeURIComponent(many)}`);
    const challenge = first.headers.get('www-authenticate')!;
    expect(challenge.split('junk00000').length - 1).toBe(1);
    expect(challenge).toContain(`scope="${READ} junk00000 junk00001`);
  });

  it.each([
    ['a non-ASCII scope', '€uro'],
    ['a Latin-1 scope', 'pr\u00f3f'],
    ['a quote', 'a"b'],
    ['a backslash', 'a\\b'],
    ['a control character', 'a\u0001b'],
  ])('answers ?scope= with %s with 400 invalid_request, reflecting nothing', async (_label, scope) => {
    const setup = await setUp();

    const response = await verify(
      setup.edge,
      `Bearer ${await setup.token(READ)}`,
      `?scope=${encodeURIComponent(scope)}`,
    );

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      error: 'invalid_request',
      error_description: 'The scope parameter holds a value that is not an OAuth scope.',
      code: 'scope_invalid',
    });
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="invalid_request", error_description="The scope parameter holds a value that is not an OAuth scope.", ${RESOURCE_METADATA_PARAM}`,
    );
  });

  it('accepts the scopes of an scp array', async () => {
    const setup = await setUp();
    const token = await setup.token(undefined, { scp: ['openid', READ, WRITE] });

    const response = await verify(setup.edge, `Bearer ${token}`, `?scope=${encodeURIComponent(WRITE)}`);

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe(TEST_SUBJECT);
    expect(((await response.json()) as { claims: Claims }).claims.scp).toEqual(['openid', READ, WRITE]);
    await expectInsufficientScope(
      await verify(setup.edge, `Bearer ${await setup.token(undefined, { scp: ['openid'] })}`),
      READ,
    );
  });

  it('requires no scope when neither KENNI_API_SCOPE nor ?scope= names one', async () => {
    const setup = await setUp({ KENNI_API_SCOPE: undefined });

    await expectAccepted(await verify(setup.edge, `Bearer ${await setup.token(undefined)}`));
  });

  it('refuses an API_PATHS request without KENNI_API_SCOPE with 403 and does not forward it', async () => {
    const setup = await setUp();

    const response = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await setup.token('openid')}` },
    });

    await expectInsufficientScope(response, READ);
    expect(await setup.provider.requests({ path: '/origin/api/orders' })).toEqual([]);
    expect(loggedEvents('bearer_rejected')).toEqual([
      expect.objectContaining({ reason: 'insufficient_scope', status: 403, path: '/api/orders' }),
    ]);
  });

  it('forwards an API_PATHS request with the scope to the origin, with the granted scopes', async () => {
    const setup = await setUp();

    const response = await setup.edge.fetch('/api/orders', {
      headers: { authorization: `Bearer ${await setup.token(`openid ${READ}`)}` },
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ orders: [] });
    const [forwarded] = await setup.provider.requests({ path: '/origin/api/orders' });
    expect(forwarded!.headers['x-kenni-sub']).toBe(TEST_SUBJECT);
    expect(forwarded!.headers['x-kenni-scope']).toBe(`openid ${READ}`);
    expect(forwarded!.headers['x-kenni-auth']).toBe('bearer');
  });
});

describe('the Authorization header', () => {
  it.each([
    ['Bearer', 'the scheme alone'],
    ['Bearer a b', 'two tokens'],
    ['Bearer ä', 'a non-ASCII token'],
    ['Bearer "abc.def.ghi"', 'a quoted token'],
    ['Bearer abc,def', 'a comma'],
    ['Bearer a=b.c', 'padding inside the token'],
    ['Bearer\tabc.def.ghi', 'a tab instead of the space'],
    ['Bearer  abc.def.ghi', 'two spaces'],
  ])('answers 400 invalid_request to %j (%s)', async (authorization) => {
    const setup = await setUp();

    await expectMalformed(await verify(setup.edge, authorization));
    expect(await setup.provider.requests({ path: '/oidc/jwks' })).toEqual([]);
    expect(loggedEvents('bearer_rejected').map((entry) => entry.reason)).toEqual(['malformed_header']);
  });

  it('answers 400 invalid_request to two Authorization headers, even when both carry a valid token', async () => {
    const setup = await setUp();
    const token = await setup.token(READ);
    const headers = new Headers();
    headers.append('authorization', `Bearer ${token}`);
    headers.append('authorization', `Bearer ${token}`);

    await expectMalformed(await setup.edge.fetch('/auth/verify', { headers }));
  });

  it('answers 400 invalid_request to a malformed header on an API_PATHS route, without forwarding', async () => {
    const setup = await setUp();

    await expectMalformed(await setup.edge.fetch('/api/orders', { headers: { authorization: 'Bearer a b' } }));
    expect(await setup.provider.requests({ path: '/origin/api/orders' })).toEqual([]);
  });

  it('answers 401 with a challenge without an error attribute when there is no Authorization header', async () => {
    const setup = await setUp();

    await expectNoCredentials(
      await verify(setup.edge, undefined),
      'bearer_missing',
      'A bearer access token is required.',
    );
    expect(loggedEvents('bearer_rejected')).toEqual([]);
  });

  it.each([
    'Basic dXNlcjpwYXNz',
    'Digest username="u", realm="r"',
    'DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln',
    'Bearertoken',
  ])('answers 401 with a challenge without an error attribute to another scheme: %j', async (authorization) => {
    const setup = await setUp();

    await expectNoCredentials(
      await verify(setup.edge, authorization),
      'bearer_missing',
      'A bearer access token is required.',
    );
    expect(await setup.provider.requests({ path: '/oidc/jwks' })).toEqual([]);
  });

  it('answers 401 with a bare challenge on an API_PATHS route without credentials, never a redirect', async () => {
    const setup = await setUp();

    const response = await setup.edge.fetch('/api/orders', {
      headers: { authorization: 'Basic dXNlcjpwYXNz', accept: 'text/html', 'sec-fetch-mode': 'navigate' },
    });

    await expectNoCredentials(response, 'session_required', 'A bearer access token or a session is required.');
    expect(response.headers.get('location')).toBeNull();
    expect(await setup.provider.requests({ path: '/origin/api/orders' })).toEqual([]);
  });

  it.each(['bearer', 'BEARER', 'BeArEr'])('takes the scheme in any letter case (%s)', async (scheme) => {
    const setup = await setUp();

    await expectAccepted(await verify(setup.edge, `${scheme} ${await setup.token(READ)}`));
  });

  it('escapes the double quotes of the description in the challenge (a backslash in the token is malformed)', async () => {
    const setup = await setUp();

    const response = await verify(setup.edge, 'Bearer a\\b');

    expect(response.status).toBe(400);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toBe(MALFORMED_CHALLENGE);
    expect(challenge).toContain('error_description="The Authorization header is not \\"Bearer <token>\\"."');
    expect(challenge).not.toContain('a\\b');
  });
});

describe('the bearer_rejected log line', () => {
  it('has a reason, the status and the path, and never the token or its parts', async () => {
    const setup = await setUp();
    const expired = await setup.token(READ, { exp: Math.floor(NOW / 1000) - 120 });
    const wrongAudience = await setup.token(READ, { aud: '@t.is/other-api' });
    const tampered = `${expired.split('.').slice(0, 2).join('.')}.${wrongAudience.split('.')[2]}`;

    expect((await verify(setup.edge, `Bearer ${expired}`)).status).toBe(401);
    expect((await verify(setup.edge, `Bearer ${wrongAudience}`)).status).toBe(401);
    expect((await verify(setup.edge, `Bearer ${tampered}`)).status).toBe(401);
    expect((await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${expired}` } })).status).toBe(
      401,
    );

    const lines = loggedEvents('bearer_rejected');
    expect(lines).toEqual([
      {
        level: 'warn',
        event: 'bearer_rejected',
        reason: 'expired',
        status: 401,
        path: '/auth/verify',
        time: new Date(NOW).toISOString(),
      },
      {
        level: 'warn',
        event: 'bearer_rejected',
        reason: 'invalid_aud',
        status: 401,
        path: '/auth/verify',
        time: new Date(NOW).toISOString(),
      },
      {
        level: 'warn',
        event: 'bearer_rejected',
        reason: 'bad_signature',
        status: 401,
        path: '/auth/verify',
        time: new Date(NOW).toISOString(),
      },
      {
        level: 'warn',
        event: 'bearer_rejected',
        reason: 'expired',
        status: 401,
        path: '/api/orders',
        time: new Date(NOW).toISOString(),
      },
    ]);
    const everything = testLines()
      .map(({ text }) => text)
      .join('\n');
    for (const token of [expired, wrongAudience, tampered]) {
      for (const part of token.split('.')) expect(everything).not.toContain(part);
    }
    expect(everything).not.toContain(TEST_SUBJECT);
  });

  it('is written for a token the provider never signed, with the reason only', async () => {
    const setup = await setUp();
    const garbage = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

    expect((await verify(setup.edge, `Bearer ${garbage}`)).status).toBe(401);

    // {"alg":"RS256"} without kid, and the JWKS holds one ES256 key: no key fits.
    expect(loggedEvents('bearer_rejected')).toEqual([
      expect.objectContaining({ reason: 'unknown_key', status: 401, path: '/auth/verify' }),
    ]);
    const everything = testLines()
      .map(({ text }) => text)
      .join('\n');
    expect(everything).not.toContain('c2lnbmF0dXJl');
    expect(everything).not.toContain('eyJzdWIiOiJ4In0');
  });
});

describe('requireBearer() in an app of its own', () => {
  function createApp(options?: Parameters<typeof requireBearer>[0]): Hono<AppEnv> {
    const app = new Hono<AppEnv>();
    app.use('*', async (c, next) => {
      c.set('config', loadConfig(c.env));
      await next();
    });
    app.get('/x', requireBearer(options), (c) => {
      const bearer = c.get('bearer');
      return c.json({ sub: bearer?.claims.sub, scopes: [...(bearer?.scopes ?? [])].sort() });
    });
    app.onError(handleError);
    return app;
  }

  function request(app: Hono<AppEnv>, setup: Setup, authorization?: string): Promise<Response> {
    const bindings = { ...(env as unknown as Env), ...setup.vars } as Env;
    return Promise.resolve(
      app.request(`${EDGE_ORIGIN}/x`, authorization === undefined ? {} : { headers: { authorization } }, bindings),
    );
  }

  it('lets a token with the required scopes through to the handler, with the verified claims', async () => {
    const setup = await setUp();
    const app = createApp({ scopes: [WRITE] });

    const response = await request(app, setup, `Bearer ${await setup.token(`openid ${WRITE}`)}`);

    expect(response.status).toBe(200);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({ sub: TEST_SUBJECT, scopes: [WRITE, 'openid'].sort() });
  });

  it('answers 403 insufficient_scope when the token lacks a scope given to requireBearer', async () => {
    const setup = await setUp();
    const app = createApp({ scopes: [WRITE] });

    await expectInsufficientScope(await request(app, setup, `Bearer ${await setup.token(READ)}`), WRITE);
  });

  it('requires KENNI_API_SCOPE when no scopes are given', async () => {
    const setup = await setUp();
    const app = createApp();

    await expectInsufficientScope(await request(app, setup, `Bearer ${await setup.token(WRITE)}`), READ);
    const response = await request(app, setup, `Bearer ${await setup.token(READ)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: TEST_SUBJECT, scopes: [READ] });
  });

  it('answers 401 invalid_token to a token for another audience', async () => {
    const setup = await setUp();
    const app = createApp({ scopes: [] });

    const response = await request(app, setup, `Bearer ${await setup.token(READ, { aud: '@t.is/other-api' })}`);

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="invalid_token", error_description="The token is not meant for this API (audience).", ${RESOURCE_METADATA_PARAM}`,
    );
    expect(await response.json()).toEqual({
      error: 'invalid_token',
      error_description: 'The token is not meant for this API (audience).',
      code: 'bearer_invalid',
    });
  });

  it('answers 401 with a bare challenge without a token, and 400 to a malformed header', async () => {
    const setup = await setUp();
    const app = createApp({ scopes: [READ] });

    await expectNoCredentials(await request(app, setup), 'bearer_missing', 'A bearer access token is required.');
    await expectNoCredentials(
      await request(app, setup, 'Basic dXNlcjpwYXNz'),
      'bearer_missing',
      'A bearer access token is required.',
    );
    await expectMalformed(await request(app, setup, 'Bearer a b'));
  });
});
