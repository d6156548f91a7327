/**
 * `POST /auth/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0):
 * every malformed or replayed logout token is 400 `invalid_request` and leaves
 * every session alone; a valid one ends the sessions of its `sid`, or every
 * session of its `sub`. The provider is the scripted one, so the test signs
 * logout tokens with the provider's own key (and with hostile ones).
 */
import { describe, expect, it } from 'vitest';
import { coldIsolate, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import { captureLogs } from '../support/log-capture.ts';
import {
  base64urlJson,
  generateTestKey,
  hs256WithPublicKey,
  signJwt,
  unsecuredJwt,
  type Claims,
} from '../support/token-factory.ts';
import {
  CLIENT_ID,
  expectSessionAlive,
  expectSessionGone,
  kv,
  setUp,
  signIn as signInAs,
  type Setup,
} from './revoke-helpers.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const LOGOUT_TYP = { typ: 'logout+jwt' };

/** A browser signed in as the test's user (or `sub`) with the provider session `sid`. */
function signIn(setup: Setup, sid: string | undefined, sub = setup.sub) {
  return signInAs(setup, { sid, sub });
}

/** The claims of a valid logout token for `setup`; `overrides` replace (or, with `undefined`, remove) claims. */
function logoutClaims(setup: Setup, overrides: Claims = {}): Claims {
  const now = Math.floor(Date.now() / 1000);
  const claims: Claims = {
    iss: setup.provider.issuer,
    aud: CLIENT_ID,
    iat: now,
    exp: now + 120,
    jti: crypto.randomUUID(),
    sub: setup.sub,
    events: { [EVENT]: {} },
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

function postForm(edge: TestEdge, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return edge.fetch('/auth/backchannel-logout', {
    method: 'POST',
    jar: false,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}

function postLogoutToken(edge: TestEdge, token: string): Promise<Response> {
  return postForm(edge, new URLSearchParams({ logout_token: token }).toString());
}

async function expectRefused(response: Response): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(400);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(await response.json()).toMatchObject({ error: 'invalid_request', code: 'logout_token_invalid' });
}

const SID = () => `sid-${crypto.randomUUID()}`;

describe('POST /auth/backchannel-logout refuses every malformed logout token and touches no session', () => {
  const cases: Array<[string, (setup: Setup, claims: Claims) => Promise<string>]> = [
    [
      'a wrong signature',
      async ({ key }, claims) => {
        const [header, payload, signature] = (await signJwt(key, claims, LOGOUT_TYP)).split('.') as [
          string,
          string,
          string,
        ];
        return `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      },
    ],
    [
      'a key that is not the provider’s (same kid)',
      async ({ key }, claims) => signJwt(await generateTestKey('RS256', key.kid), claims, LOGOUT_TYP),
    ],
    [
      'no signature',
      async ({ key }, claims) =>
        `${base64urlJson({ alg: 'RS256', kid: key.kid, ...LOGOUT_TYP })}.${base64urlJson(claims)}.`,
    ],
    ['alg none', async (_setup, claims) => unsecuredJwt(claims, LOGOUT_TYP)],
    [
      'HS256 with the provider’s public JWK as secret',
      async ({ key }, claims) => hs256WithPublicKey(key.publicJwk, claims, { header: LOGOUT_TYP }),
    ],
    [
      'HS256 with the provider’s public key PEM as secret',
      async ({ key }, claims) => hs256WithPublicKey(key.publicJwk, claims, { secret: 'pem', header: LOGOUT_TYP }),
    ],
    [
      'a wrong iss',
      async ({ key }, claims) => signJwt(key, { ...claims, iss: 'https://idp.kenni.is/other.is' }, LOGOUT_TYP),
    ],
    ['a wrong aud', async ({ key }, claims) => signJwt(key, { ...claims, aud: '@dev-team.is/spa' }, LOGOUT_TYP)],
    [
      'an aud list without the client',
      async ({ key }, claims) => signJwt(key, { ...claims, aud: ['@dev-team.is/spa', 'x'] }, LOGOUT_TYP),
    ],
    ['no events', async ({ key }, claims) => signJwt(key, { ...claims, events: undefined }, LOGOUT_TYP)],
    [
      'events without the logout event',
      async ({ key }, claims) =>
        signJwt(key, { ...claims, events: { 'http://schemas.openid.net/event/other': {} } }, LOGOUT_TYP),
    ],
    [
      'the logout event not an object',
      async ({ key }, claims) => signJwt(key, { ...claims, events: { [EVENT]: true } }, LOGOUT_TYP),
    ],
    ['events as an array', async ({ key }, claims) => signJwt(key, { ...claims, events: [EVENT] }, LOGOUT_TYP)],
    ['a nonce', async ({ key }, claims) => signJwt(key, { ...claims, nonce: 'n-1' }, LOGOUT_TYP)],
    [
      'neither sid nor sub',
      async ({ key }, claims) => signJwt(key, { ...claims, sid: undefined, sub: undefined }, LOGOUT_TYP),
    ],
    [
      'iat far in the future',
      async ({ key }, claims) =>
        signJwt(key, { ...claims, iat: Number(claims.iat) + 3600, exp: Number(claims.iat) + 7200 }, LOGOUT_TYP),
    ],
    ['no iat', async ({ key }, claims) => signJwt(key, { ...claims, iat: undefined }, LOGOUT_TYP)],
    [
      'iat an hour old (exp still ahead)',
      async ({ key }, claims) => signJwt(key, { ...claims, iat: Number(claims.iat) - 3600 }, LOGOUT_TYP),
    ],
    [
      'an exp in the past',
      async ({ key }, claims) =>
        signJwt(key, { ...claims, iat: Number(claims.iat) - 200, exp: Number(claims.iat) - 100 }, LOGOUT_TYP),
    ],
    ['no jti', async ({ key }, claims) => signJwt(key, { ...claims, jti: undefined }, LOGOUT_TYP)],
    ['a typ of JWT', async ({ key }, claims) => signJwt(key, claims, { typ: 'JWT' })],
    ['an ID token’s typ', async ({ key }, claims) => signJwt(key, claims, { typ: 'id_token+jwt' })],
    ['a sid that is not a string', async ({ key }, claims) => signJwt(key, { ...claims, sid: 42 }, LOGOUT_TYP)],
  ];
  // Without the durable object too: every refusal must come before any record is made.
  it.for(cases)('%s → 400', async ([, make]) => {
    const setup = await setUp();
    const sid = SID();
    const login = await signIn(setup, sid);
    const token = await make(setup, logoutClaims(setup, { sid }));
    const capture = captureLogs();

    await expectRefused(await postLogoutToken(setup.edge, token));

    await expectSessionAlive(setup, login);
    const refusals = capture.events().filter((event) => event.event === 'logout_token_rejected');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 'warn', status: 400, path: '/auth/backchannel-logout' });
  });

  it.for([
    ['no body', ''],
    ['no logout_token', 'token=abc'],
    ['two logout_tokens', 'logout_token=a.b.c&logout_token=a.b.c'],
    ['an empty logout_token', 'logout_token='],
  ])('a form with %s → 400', async ([, body]) => {
    const setup = await setUp();
    const login = await signIn(setup, SID());
    await expectRefused(await postForm(setup.edge, body!));
    await expectSessionAlive(setup, login);
  });

  it('a JSON body → 400', async () => {
    const setup = await setUp();
    const token = await signJwt(setup.key, logoutClaims(setup), LOGOUT_TYP);
    await expectRefused(
      await postForm(setup.edge, JSON.stringify({ logout_token: token }), { 'content-type': 'application/json' }),
    );
  });

  it('a body over 32 KB → 400, read no further', async () => {
    const setup = await setUp();
    await expectRefused(await postForm(setup.edge, `logout_token=${'a'.repeat(40_000)}`));
  });

  it('answers GET with 405 and Allow: POST', async () => {
    const setup = await setUp();
    const response = await setup.edge.fetch('/auth/backchannel-logout', { jar: false });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('POST /auth/backchannel-logout refuses a replayed jti', () => {
  it('the same token twice: 200, then 400 (same isolate, then another isolate)', async () => {
    const setup = await setUp();
    // By sub: an accepted replay would end every later session of the user.
    const token = await signJwt(setup.key, logoutClaims(setup), LOGOUT_TYP);
    expect((await postLogoutToken(setup.edge, token)).status).toBe(200);
    const later = await signIn(setup, SID());

    await expectRefused(await postLogoutToken(setup.edge, token));
    await expectRefused(await postLogoutToken(coldIsolate(setup.edge), token));
    await expectSessionAlive(setup, later);
  });

  it('records jti:<sha256(iss + jti)> in KV for the token’s lifetime', async () => {
    const setup = await setUp();
    const claims = logoutClaims(setup, { sid: SID() });
    expect((await postLogoutToken(setup.edge, await signJwt(setup.key, claims, LOGOUT_TYP))).status).toBe(200);
    const key = `jti:${await sha256Hex(`${setup.provider.issuer}${String(claims.jti)}`)}`;
    const { value, metadata } = await kv.getWithMetadata(key);
    expect(value).toBe('1');
    expect(metadata).toBeNull();
    const listed = await kv.list({ prefix: key });
    const expiration = listed.keys[0]?.expiration ?? 0;
    // exp is 120 s ahead, plus the clock tolerance (30 s): never the 5-minute age limit, never forever.
    expect(expiration - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(140);
    expect(expiration - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(160);
  });

  it('with SESSION_LOCKS, a replay is refused even where KV does not show the jti yet', async () => {
    const setup = await setUp();
    const claims = logoutClaims(setup, { sid: SID() });
    const token = await signJwt(setup.key, claims, LOGOUT_TYP);
    expect((await postLogoutToken(setup.edge, token)).status).toBe(200);
    // Another location whose KV has not seen the write yet: the Durable Object still knows.
    await kv.delete(`jti:${await sha256Hex(`${setup.provider.issuer}${String(claims.jti)}`)}`);
    await expectRefused(await postLogoutToken(coldIsolate(setup.edge), token));
  });

  it('without SESSION_LOCKS, KV refuses a replay in another isolate', async () => {
    const setup = await setUp({ SESSION_LOCKS: undefined });
    const token = await signJwt(setup.key, logoutClaims(setup, { sid: SID() }), LOGOUT_TYP);
    expect((await postLogoutToken(setup.edge, token)).status).toBe(200);
    await expectRefused(await postLogoutToken(coldIsolate(setup.edge), token));
  });

  it('a refused token records nothing: the same jti, validly signed later, is accepted', async () => {
    const setup = await setUp();
    const claims = logoutClaims(setup, { sid: SID() });
    await expectRefused(
      await postLogoutToken(setup.edge, await signJwt(setup.key, { ...claims, nonce: 'x' }, LOGOUT_TYP)),
    );
    expect((await postLogoutToken(setup.edge, await signJwt(setup.key, claims, LOGOUT_TYP))).status).toBe(200);
  });
});

describe('POST /auth/backchannel-logout ends sessions', () => {
  it('by sid: exactly that session, not the user’s other one', async () => {
    const setup = await setUp();
    const sid = SID();
    const target = await signIn(setup, sid);
    const other = await signIn(setup, SID());
    const capture = captureLogs();

    const response = await postLogoutToken(
      setup.edge,
      await signJwt(setup.key, logoutClaims(setup, { sid }), LOGOUT_TYP),
    );

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.text()).toBe('');
    await expectSessionGone(setup, target);
    await expectSessionAlive(setup, other);
    const lines = capture.lines().map((line) => line.text);
    expect(capture.events().filter((event) => event.event === 'backchannel_logout')).toEqual([
      expect.objectContaining({ level: 'info', n_sessions: 1, detail: 'by_sid' }),
    ]);
    expect(capture.events().filter((event) => event.event === 'session_ended')).toEqual([
      expect.objectContaining({ reason: 'backchannel_logout', session: target.keyHash.slice(0, 12) }),
    ]);
    for (const line of lines) {
      expect(line).not.toContain(setup.sub);
      expect(line).not.toContain(sid);
    }
  });

  it('by sub: every session of the user, and nobody else’s', async () => {
    const setup = await setUp();
    const first = await signIn(setup, SID());
    const second = await signIn(setup, undefined);
    const stranger = await signIn(setup, SID(), `bc-${crypto.randomUUID()}`);
    const capture = captureLogs();

    const response = await postLogoutToken(setup.edge, await signJwt(setup.key, logoutClaims(setup), LOGOUT_TYP));

    expect(response.status).toBe(200);
    await expectSessionGone(setup, first);
    await expectSessionGone(setup, second);
    await expectSessionAlive(setup, stranger);
    expect(capture.events().filter((event) => event.event === 'backchannel_logout')).toEqual([
      expect.objectContaining({ n_sessions: 2, detail: 'by_sub' }),
    ]);
  });

  it('200 when no session matches', async () => {
    const setup = await setUp();
    const response = await postLogoutToken(
      setup.edge,
      await signJwt(setup.key, logoutClaims(setup, { sid: SID() }), LOGOUT_TYP),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it.for([
    ['no typ', { typ: undefined }],
    ['typ application/logout+jwt', { typ: 'application/logout+jwt' }],
  ] as const)('accepts a token with %s, aud as a list with the client, and no exp', async ([, header]) => {
    const setup = await setUp();
    const sid = SID();
    const login = await signIn(setup, sid);
    const claims = logoutClaims(setup, { sid, aud: ['other', CLIENT_ID], exp: undefined });
    expect((await postLogoutToken(setup.edge, await signJwt(setup.key, claims, header))).status).toBe(200);
    await expectSessionGone(setup, login);
  });

  it('is not refused cross-site: the provider calls it server to server', async () => {
    const setup = await setUp();
    const sid = SID();
    const login = await signIn(setup, sid);
    const token = await signJwt(setup.key, logoutClaims(setup, { sid }), LOGOUT_TYP);
    const response = await postForm(setup.edge, new URLSearchParams({ logout_token: token }).toString(), {
      'sec-fetch-site': 'cross-site',
      origin: 'https://evil.example',
    });
    expect(response.status).toBe(200);
    await expectSessionGone(setup, login);
  });
});
