/**
 * `POST /auth/admin/revoke`: with `KENNI_ADMIN_SCOPE`, a bearer token verified
 * like any other and carrying that scope ends every session of a user, by
 * `sub` or by national id; without the scope 403, without a token 401, a bad
 * body 400 (and no session touched); without the setting the route does not
 * exist (404), whatever the token.
 */
import { env } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { getClientCredentialsToken, type Env } from '../../src/index.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';
import { makeAccessTokenClaims, signJwt } from '../support/token-factory.ts';
import {
  expectSessionAlive,
  expectSessionGone,
  setUp,
  signIn,
  uniqueNationalId,
  type Setup,
} from './revoke-helpers.ts';

const ADMIN_SCOPE = '@dev-team.is/sessions.admin';
const API_AUDIENCE = '@dev-team.is/web-api';

/** An access token of the scripted provider for the edge's API audience with `scope`. */
function accessToken(setup: Setup, scope: string, overrides: Record<string, unknown> = {}): Promise<string> {
  return signJwt(
    setup.key,
    makeAccessTokenClaims({
      issuer: setup.provider.issuer,
      audience: API_AUDIENCE,
      scope,
      clientId: '@dev-team.is/ops',
      ...overrides,
    }),
  );
}

function revoke(edge: TestEdge, token: string | undefined, body: string, contentType = 'application/json') {
  return edge.fetch('/auth/admin/revoke', {
    method: 'POST',
    jar: false,
    headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

async function expectJsonError(response: Response, status: number, error: string, code: string): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(status);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(await response.json()).toMatchObject({ error, code });
}

describe('POST /auth/admin/revoke without KENNI_ADMIN_SCOPE', () => {
  it('does not exist: 404 for POST with an admin token and for GET, and no session touched', async () => {
    const setup = await setUp();
    const login = await signIn(setup);
    const token = await accessToken(setup, ADMIN_SCOPE);

    await expectJsonError(
      await revoke(setup.edge, token, JSON.stringify({ sub: setup.sub })),
      404,
      'not_found',
      'not_found',
    );
    expect((await setup.edge.fetch('/auth/admin/revoke', { jar: false })).status).toBe(404);
    await expectSessionAlive(setup, login);
  });
});

describe('POST /auth/admin/revoke with KENNI_ADMIN_SCOPE', () => {
  const withAdmin = () => setUp({ KENNI_ADMIN_SCOPE: ADMIN_SCOPE });

  it('by sub: ends every session of that user, nobody else’s, and answers { revoked: n }', async () => {
    const setup = await withAdmin();
    const first = await signIn(setup);
    const second = await signIn(setup, { sid: 'sid-2' });
    const stranger = await signIn(setup, { sub: `sc-${crypto.randomUUID()}` });
    const capture = captureLogs();

    const response = await revoke(
      setup.edge,
      await accessToken(setup, ADMIN_SCOPE),
      JSON.stringify({ sub: setup.sub }),
    );

    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({ revoked: 2 });
    await expectSessionGone(setup, first);
    await expectSessionGone(setup, second);
    await expectSessionAlive(setup, stranger);
    expect(capture.events().filter((event) => event.event === 'admin_revoked')).toEqual([
      expect.objectContaining({ level: 'info', n_sessions: 2, detail: 'by_sub' }),
    ]);
    const ended = capture.events().filter((event) => event.event === 'session_ended');
    expect(ended.map((event) => [event.reason, event.session]).sort()).toEqual(
      [
        ['admin_revoked', first.keyHash.slice(0, 12)],
        ['admin_revoked', second.keyHash.slice(0, 12)],
      ].sort(),
    );
    for (const { text } of capture.lines()) expect(text).not.toContain(setup.sub);
  });

  it('by national_id: ends the sessions of that kennitala, and the kennitala is in no log line', async () => {
    const setup = await withAdmin();
    const nationalId = uniqueNationalId();
    const login = await signIn(setup, { national_id: nationalId });
    const other = await signIn(setup, { sub: `sc-${crypto.randomUUID()}`, national_id: uniqueNationalId() });
    const capture = captureLogs();

    const response = await revoke(
      setup.edge,
      await accessToken(setup, `@dev-team.is/api.read ${ADMIN_SCOPE}`),
      JSON.stringify({ national_id: nationalId }),
    );

    expect(await response.json()).toEqual({ revoked: 1 });
    await expectSessionGone(setup, login);
    await expectSessionAlive(setup, other);
    for (const { text } of capture.lines()) expect(text).not.toContain(nationalId);
  });

  it('answers { revoked: 0 } when the user has no session', async () => {
    const setup = await withAdmin();
    const response = await revoke(setup.edge, await accessToken(setup, ADMIN_SCOPE), JSON.stringify({ sub: 'nobody' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ revoked: 0 });
  });

  it('without a token: 401 with a Bearer challenge, no session touched', async () => {
    const setup = await withAdmin();
    const login = await signIn(setup);
    const response = await revoke(setup.edge, undefined, JSON.stringify({ sub: setup.sub }));
    await expectJsonError(response, 401, 'bearer_missing', 'bearer_missing');
    // Like every bearer route's challenge, it names the RFC 9728 metadata (so clients can find the issuer).
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="kenni-edge", resource_metadata="https?:\/\/[^"]+\/\.well-known\/oauth-protected-resource"$/,
    );
    await expectSessionAlive(setup, login);
  });

  it.for([
    ['a token without the admin scope', (setup: Setup) => accessToken(setup, '@dev-team.is/api.read')],
    ['a token whose scope only starts like it', (setup: Setup) => accessToken(setup, `${ADMIN_SCOPE}x`)],
  ] as const)('%s: 403 insufficient_scope naming the scope, no session touched', async ([, make]) => {
    const setup = await withAdmin();
    const login = await signIn(setup);
    const response = await revoke(setup.edge, await make(setup), JSON.stringify({ sub: setup.sub }));
    await expectJsonError(response, 403, 'insufficient_scope', 'insufficient_scope');
    expect(response.headers.get('www-authenticate')).toContain(`scope="${ADMIN_SCOPE}"`);
    expect(response.headers.get('www-authenticate')).toContain('resource_metadata="');
    await expectSessionAlive(setup, login);
  });

  it.for([
    ['another audience', { aud: '@dev-team.is/other-api' }],
    ['another issuer', { iss: 'https://idp.kenni.is/other.is' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 120 }],
  ] as const)('%s with the admin scope: 401 invalid_token, no session touched', async ([, overrides]) => {
    const setup = await withAdmin();
    const login = await signIn(setup);
    const response = await revoke(
      setup.edge,
      await accessToken(setup, ADMIN_SCOPE, overrides),
      JSON.stringify({ sub: setup.sub }),
    );
    await expectJsonError(response, 401, 'invalid_token', 'bearer_invalid');
    await expectSessionAlive(setup, login);
  });

  it.for([
    ['both sub and national_id', (setup: Setup) => JSON.stringify({ sub: setup.sub, national_id: '0101302989' })],
    ['neither', () => JSON.stringify({})],
    ['another member', (setup: Setup) => JSON.stringify({ subject: setup.sub })],
    ['an empty sub', () => JSON.stringify({ sub: '' })],
    ['a sub that is not a string', () => JSON.stringify({ sub: 42 })],
    ['a national_id of nine digits', () => JSON.stringify({ national_id: '010130298' })],
    ['a national_id of eleven digits', () => JSON.stringify({ national_id: '01013029890' })],
    ['a national_id with a dash', () => JSON.stringify({ national_id: '010130-2989' })],
    ['a national_id as a number', () => JSON.stringify({ national_id: 1013029890 })],
    ['an array', (setup: Setup) => JSON.stringify([{ sub: setup.sub }])],
    ['not JSON', () => '{sub:'],
    ['a body over 4 KB', () => JSON.stringify({ sub: 'x'.repeat(5000) })],
  ] as const)('a body with %s: 400 invalid_request, no session touched', async ([, make]) => {
    const setup = await withAdmin();
    const login = await signIn(setup);
    const response = await revoke(setup.edge, await accessToken(setup, ADMIN_SCOPE), make(setup));
    await expectJsonError(response, 400, 'invalid_request', 'revoke_request_invalid');
    await expectSessionAlive(setup, login);
  });

  it('a form body instead of JSON: 400', async () => {
    const setup = await withAdmin();
    const response = await revoke(
      setup.edge,
      await accessToken(setup, ADMIN_SCOPE),
      `sub=${setup.sub}`,
      'application/x-www-form-urlencoded',
    );
    await expectJsonError(response, 400, 'invalid_request', 'revoke_request_invalid');
  });

  it('answers GET with 405 and Allow: POST', async () => {
    const setup = await withAdmin();
    const response = await setup.edge.fetch('/auth/admin/revoke', { jar: false });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('POST /auth/admin/revoke with the real local provider', () => {
  const bindings = env as unknown as Env;

  it('accepts the m2m client’s client-credentials token with the admin scope', async () => {
    const token = await getClientCredentialsToken(bindings, { scope: ADMIN_SCOPE });
    expect(decodeJwt(token.access_token)).toMatchObject({ aud: API_AUDIENCE, client_id: '@dev-team.is/m2m' });
    const edge = createTestEdge({ KENNI_ADMIN_SCOPE: ADMIN_SCOPE });
    const response = await revoke(edge, token.access_token, JSON.stringify({ sub: `sc-${crypto.randomUUID()}` }));
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toEqual({ revoked: 0 });
  });

  it('refuses its token without the admin scope with 403', async () => {
    const token = await getClientCredentialsToken(bindings, { scope: '@dev-team.is/api.read' });
    const edge = createTestEdge({ KENNI_ADMIN_SCOPE: ADMIN_SCOPE });
    const response = await revoke(edge, token.access_token, JSON.stringify({ sub: 'nobody' }));
    await expectJsonError(response, 403, 'insufficient_scope', 'insufficient_scope');
  });
});
