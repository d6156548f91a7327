/**
 * What the edge sends to the (scripted) token endpoint, and what it logs when
 * a login fails: the code grant with PKCE and RFC 6749 client authentication
 * (Kenni client ids contain `@` and `/`), and log lines that never carry the
 * code, the ID token, the national id or a cookie value.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tokenResponse, type RecordedRequest } from '../support/scripted-provider.ts';
import { signJwt, TEST_NAME, TEST_NATIONAL_ID } from '../support/token-factory.ts';
import {
  CLIENT_ID,
  callbackPath,
  expectLoginRefused,
  expectLoginSucceeded,
  idTokenClaims,
  s256,
  SESSION_COOKIE,
  setUpHostileProvider,
  startLogin,
  watchLogs,
  type HostileSetup,
  type LogWatch,
  type StartedLogin,
} from './hostile-provider-helpers.ts';

let logs: LogWatch;
beforeEach(() => {
  logs = watchLogs();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const CODE = 'SplxlOBeZQQYbYS6WxSbIA-hostile-code';

/** Completes a login with a good ID token and returns the one token request the provider received. */
async function loginAndReadTokenRequest(
  setup: HostileSetup,
): Promise<{ login: StartedLogin; request: RecordedRequest }> {
  const login = await startLogin(setup.edge);
  await setup.provider.serveToken(
    tokenResponse({ id_token: await signJwt(setup.key, idTokenClaims(setup, login)), expires_in: 300 }),
  );
  await expectLoginSucceeded(setup, await setup.edge.fetch(callbackPath(setup, login, { code: CODE })));
  const requests = await setup.provider.requests({ path: '/oidc/token' });
  expect(requests).toHaveLength(1);
  return { login, request: requests[0]! };
}

/** Decodes one `application/x-www-form-urlencoded` value (RFC 6749 Appendix B). */
function formDecode(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

describe('token request to the provider', () => {
  it('sends the code, redirect_uri and a PKCE verifier whose S256 is the code_challenge of the login', async () => {
    const setup = await setUpHostileProvider();
    const { login, request } = await loginAndReadTokenRequest(setup);

    expect(login.authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request.form).toMatchObject({ grant_type: 'authorization_code' });
    const form = request.form!;
    expect(form.grant_type).toBe('authorization_code');
    expect(form.code).toBe(CODE);
    expect(form.redirect_uri).toBe('https://edge.test/auth/callback');
    expect(form.redirect_uri).toBe(login.redirectUri);
    expect(form.code_verifier).toMatch(/^[A-Za-z0-9._~-]{43,128}$/);
    expect(await s256(form.code_verifier!)).toBe(login.codeChallenge);
    // The verifier is secret between the edge and the provider: it never went through the browser.
    expect(login.authorizationUrl.href).not.toContain(form.code_verifier);
  });

  it('authenticates a confidential client with Basic of the form-encoded id and secret (RFC 6749 §2.3.1)', async () => {
    // ':' in the secret would split the Basic credentials if not encoded; '+', '%', ' ' and non-ASCII test the form encoding.
    const secret = 'p@ss:w/rd+ 100%é&=x';
    const setup = await setUpHostileProvider({ edge: { KENNI_CLIENT_SECRET: secret } });
    const { request } = await loginAndReadTokenRequest(setup);

    const authorization = request.headers.authorization ?? '';
    expect(authorization).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
    const credentials = atob(authorization.slice('Basic '.length));
    const parts = credentials.split(':');
    expect(parts).toHaveLength(2);
    const [user = '', password = ''] = parts;
    // Both halves are form-encoded: '@', '/', ':', '&', '=' and non-ASCII never appear raw.
    expect(user).toMatch(/^[A-Za-z0-9%+*._-]+$/);
    expect(password).toMatch(/^[A-Za-z0-9%+*._-]+$/);
    expect(user).toContain('%40');
    expect(user).toContain('%2F');
    expect(formDecode(user)).toBe(CLIENT_ID);
    expect(formDecode(password)).toBe(secret);
    expect(credentials).toBe(`${formUrlEncode(CLIENT_ID, user)}:${formUrlEncode(secret, password)}`);
    expect(request.form?.client_secret).toBeUndefined();
    expect(request.body).not.toContain('p%40ss');
  });

  it('sends a public client (no KENNI_CLIENT_SECRET) with client_id in the body and no Authorization header', async () => {
    const setup = await setUpHostileProvider({ edge: { KENNI_CLIENT_SECRET: undefined } });
    const { login, request } = await loginAndReadTokenRequest(setup);

    expect(request.headers.authorization).toBeUndefined();
    expect(request.form?.client_id).toBe(CLIENT_ID);
    expect(request.form?.client_secret).toBeUndefined();
    expect(await s256(request.form?.code_verifier ?? '')).toBe(login.codeChallenge);
  });
});

describe('logs of a failed login', () => {
  it('write login_failed with a reason and never the code, ID token, national id or a cookie value', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { nonce: 'not-the-nonce-of-this-login' }));
    await setup.provider.serveToken(
      tokenResponse({
        id_token: idToken,
        access_token: 'hostile-access-token-0123456789',
        refresh_token: 'hostile-refresh-token-0123456789',
        expires_in: 300,
      }),
    );
    const transactionCookieValue = login.transactionCookie.slice(login.transactionCookieName.length + 1);

    const response = await setup.edge.fetch(callbackPath(setup, login, { code: CODE }));
    await expectLoginRefused(setup, response, { status: 400, code: 'id_token_invalid', login, logs });

    const failed = logs.events().filter((event) => event.event === 'login_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', reason: 'id_token_invalid', status: 400 });
    const everything = logs.raw().join('\n');
    const [header = '', payload = '', signature = ''] = idToken.split('.');
    for (const secret of [
      CODE,
      idToken,
      payload,
      signature,
      TEST_NATIONAL_ID,
      TEST_NAME,
      transactionCookieValue,
      login.nonce,
      'hostile-access-token-0123456789',
      'hostile-refresh-token-0123456789',
    ]) {
      expect(everything).not.toContain(secret);
    }
    expect(header).not.toBe('');
  });

  it('never write the session cookie value when a login succeeds', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    await setup.provider.serveToken(
      tokenResponse({ id_token: await signJwt(setup.key, idTokenClaims(setup, login)), expires_in: 300 }),
    );
    await expectLoginSucceeded(setup, await setup.edge.fetch(callbackPath(setup, login, { code: CODE })));

    const sessionId = setup.edge.jar.get(SESSION_COOKIE);
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    const everything = logs.raw().join('\n');
    expect(everything).not.toContain(sessionId!);
    expect(everything).not.toContain(CODE);
    expect(everything).not.toContain(TEST_NATIONAL_ID);
    expect(logs.events().map((event) => event.event)).toEqual(['login_started', 'login_succeeded']);
  });
});

/**
 * `value` form-encoded as RFC 6749 Appendix B asks. Encoders may differ in
 * whether they also escape unreserved characters (`-`, `.`, `_`, `*`), which
 * every decoder reads back the same; `sent` picks the variant the edge used.
 */
function formUrlEncode(value: string, sent: string): string {
  const minimal = new URLSearchParams({ v: value }).toString().slice(2);
  const strict = minimal.replace(/[-._*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
  return sent === strict ? strict : minimal;
}
