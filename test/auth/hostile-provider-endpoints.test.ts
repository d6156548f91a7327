/**
 * A hostile or broken provider around the ID token: replayed and forged
 * authorization responses, provider errors, a token endpoint that refuses,
 * fails, hangs, resets or answers garbage, and a discovery document that is
 * down or names another issuer. Each ends with an error page and no session:
 * 4xx for a bad login, 502 when the provider is down or broken.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthResponseValidation
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { tokenError, tokenResponse, type Reply } from '../support/scripted-provider.ts';
import { signJwt } from '../support/token-factory.ts';
import {
  callbackPath,
  expectLoginRefused,
  expectLoginSucceeded,
  idTokenClaims,
  SESSION_COOKIE,
  sessionKeysFor,
  setUpHostileProvider,
  startLogin,
  watchLogs,
  type LogWatch,
} from './hostile-provider-helpers.ts';

let logs: LogWatch;
beforeEach(() => {
  logs = watchLogs();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('authorization response from a hostile provider', () => {
  it('refuses a replayed callback, even with the original transaction cookie (400 login_replayed)', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const callback = callbackPath(setup, login);
    await setup.provider.serveToken(
      tokenResponse({ id_token: await signJwt(setup.key, idTokenClaims(setup, login)), expires_in: 300 }),
    );
    await expectLoginSucceeded(setup, await setup.edge.fetch(callback));

    // An attacker who captured the callback URL and the transaction cookie replays both.
    const attacker = createTestEdge({ KENNI_ISSUER: setup.provider.issuer });
    const replay = await attacker.fetch(callback, { headers: { cookie: login.transactionCookie } });

    await expectLoginRefused(setup, replay, {
      status: 400,
      code: 'login_replayed',
      login,
      logs,
      browser: attacker,
      existingSessions: 1,
    });
    expect(attacker.jar.get(SESSION_COOKIE)).toBeUndefined();
    expect(await setup.provider.requests({ path: '/oidc/token' })).toHaveLength(1);
  });

  it('refuses a callback in a browser that did not start the login (400 login_state_missing)', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const stranger = createTestEdge({ KENNI_ISSUER: setup.provider.issuer });
    const response = await stranger.fetch(callbackPath(setup, login));
    await expectLoginRefused(setup, response, { status: 400, code: 'login_state_missing', logs, browser: stranger });
    expect(await setup.provider.requests({ path: '/oidc/token' })).toEqual([]);
  });

  it('shows a 403 page for error=access_denied without reflecting the error_description', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const description = '<script>alert("pwned")</script> Call +354 555 0000 to restore your account';
    const response = await setup.edge.fetch(
      callbackPath(setup, login, {
        code: undefined,
        error: 'access_denied',
        error_description: description,
        error_uri: 'https://evil.example/phish',
      }),
    );

    const page = await expectLoginRefused(setup, response, { status: 403, code: 'access_denied', login, logs });
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('alert(');
    expect(page).not.toContain('+354 555 0000');
    expect(page).not.toContain('evil.example');
    expect(await setup.provider.requests({ path: '/oidc/token' })).toEqual([]);
  });

  it('shows a 400 page for an unknown provider error code', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const response = await setup.edge.fetch(
      callbackPath(setup, login, { code: undefined, error: 'totally_unheard_of' }),
    );
    const page = await expectLoginRefused(setup, response, { status: 400, code: 'provider_error', login, logs });
    expect(page).toContain('totally_unheard_of');
  });

  it('does not reflect a provider error code that is markup', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const response = await setup.edge.fetch(
      callbackPath(setup, login, { code: undefined, error: '<img src=x onerror=alert(1)>' }),
    );
    const page = await expectLoginRefused(setup, response, { status: 400, code: 'provider_error', login, logs });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('onerror');
  });

  it('refuses an iss response parameter that differs from the issuer the provider advertises (RFC 9207)', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const response = await setup.edge.fetch(callbackPath(setup, login, { iss: 'https://idp.kenni.is/evil-team.is' }));
    await expectLoginRefused(setup, response, { status: 400, code: 'login_state_invalid', login, logs });
    expect(await setup.provider.requests({ path: '/oidc/token' })).toEqual([]);
  });

  it('refuses a callback without iss when the provider advertises authorization_response_iss_parameter_supported', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const response = await setup.edge.fetch(callbackPath(setup, login, { iss: undefined }));
    await expectLoginRefused(setup, response, { status: 400, code: 'login_state_invalid', login, logs });
    expect(await setup.provider.requests({ path: '/oidc/token' })).toEqual([]);
  });

  it('accepts a callback without iss when the provider does not advertise the parameter', async () => {
    const setup = await setUpHostileProvider({
      discovery: { authorization_response_iss_parameter_supported: undefined },
    });
    const login = await startLogin(setup.edge);
    await setup.provider.serveToken(
      tokenResponse({ id_token: await signJwt(setup.key, idTokenClaims(setup, login)), expires_in: 300 }),
    );
    await expectLoginSucceeded(setup, await setup.edge.fetch(callbackPath(setup, login, { iss: undefined })));
  });
});

describe('token endpoint of a hostile provider', () => {
  /** Starts a login, scripts the token endpoint with `reply` and follows the callback. */
  async function callbackWithTokenReply(reply: Reply, edge: Record<string, unknown> = {}) {
    const setup = await setUpHostileProvider({ edge });
    const login = await startLogin(setup.edge);
    await setup.provider.serveToken(reply);
    const startedAt = Date.now();
    const response = await setup.edge.fetch(callbackPath(setup, login));
    return { setup, login, response, elapsedMs: Date.now() - startedAt };
  }

  it('shows a 400 invalid_grant page when the provider rejects the code', async () => {
    const { setup, login, response } = await callbackWithTokenReply(
      tokenError('invalid_grant', 'authorization code is invalid'),
    );
    const page = await expectLoginRefused(setup, response, { status: 400, code: 'invalid_grant', login, logs });
    expect(page).not.toContain('authorization code is invalid');
    expect(await setup.provider.requests({ path: '/oidc/token' })).toHaveLength(1);
  });

  it.each([500, 503])('answers 502 when the token endpoint answers %i', async (status) => {
    const { setup, login, response } = await callbackWithTokenReply({ status, json: { error: 'server_error' } });
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_unreachable', login, logs });
  });

  it('answers 502 within the provider timeout when the token endpoint hangs', async () => {
    const { setup, login, response, elapsedMs } = await callbackWithTokenReply(
      { hang: true },
      { PROVIDER_TIMEOUT: '1' },
    );
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_unreachable', login, logs });
    expect(elapsedMs).toBeLessThan(5_000);
    expect(await setup.provider.requests({ path: '/oidc/token' })).toHaveLength(1);
  });

  it('answers 502 when the token endpoint resets the connection', async () => {
    const { setup, login, response } = await callbackWithTokenReply({ destroy: true });
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_unreachable', login, logs });
  });

  it('answers 502 provider_misconfigured when the token endpoint refuses the client (invalid_client)', async () => {
    const { setup, login, response } = await callbackWithTokenReply(
      tokenError('invalid_client', 'client authentication failed', 401),
    );
    await expectLoginRefused(setup, response, {
      status: 502,
      code: 'provider_misconfigured',
      reason: 'token_endpoint_invalid_client',
      login,
      logs,
    });
  });

  // A token response that is not JSON is the provider (or something in front of it) failing, not a bad
  // login: a gateway that gets an invalid answer from upstream says 502 (RFC 9110 §15.6.3), and a refresh
  // that meets one must keep the session instead of ending it.
  it('answers 502 token_response_invalid when the token response is HTML', async () => {
    const { setup, login, response } = await callbackWithTokenReply({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>Maintenance</body></html>',
    });
    const page = await expectLoginRefused(setup, response, {
      status: 502,
      code: 'token_response_invalid',
      login,
      logs,
    });
    expect(page).not.toContain('Maintenance');
  });

  it('answers 502 token_response_invalid when the token response claims JSON but is not', async () => {
    const { setup, login, response } = await callbackWithTokenReply({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"access_token": "abc", ',
    });
    await expectLoginRefused(setup, response, { status: 502, code: 'token_response_invalid', login, logs });
  });

  it('answers 502 token_response_invalid when an error status carries no OAuth error body', async () => {
    const { setup, login, response } = await callbackWithTokenReply({
      status: 403,
      headers: { 'content-type': 'text/html' },
      body: '<h1>Forbidden by WAF</h1>',
    });
    await expectLoginRefused(setup, response, { status: 502, code: 'token_response_invalid', login, logs });
  });

  it('shows a 400 page when the token response has no id_token', async () => {
    const { setup, login, response } = await callbackWithTokenReply(
      tokenResponse({ expires_in: 300, refresh_token: 'refresh-token-1' }),
    );
    await expectLoginRefused(setup, response, { status: 400, code: 'id_token_invalid', login, logs });
  });
});

describe('discovery of a hostile provider', () => {
  it.each<[string, Reply]>([
    ['answers 503', { status: 503, json: { error: 'unavailable' } }],
    ['resets the connection', { destroy: true }],
    ['hangs', { hang: true }],
  ])('answers /auth/login with a 502 page and no redirect when discovery %s', async (_label, reply) => {
    const setup = await setUpHostileProvider({ serveDiscovery: false, edge: { PROVIDER_TIMEOUT: '1' } });
    await setup.provider.route('GET', '/.well-known/openid-configuration', reply);
    const response = await setup.edge.fetch('/auth/login?return_to=/dashboard');
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_unreachable' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(await setup.provider.requests({ path: '/.well-known/openid-configuration' })).toHaveLength(1);
  });

  it('answers /auth/login with 502 provider_misconfigured when discovery names another issuer', async () => {
    const setup = await setUpHostileProvider({ discovery: { issuer: 'https://idp.kenni.is/evil-team.is' } });
    const response = await setup.edge.fetch('/auth/login?return_to=/dashboard');
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_misconfigured' });
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('answers /auth/login with 502 provider_misconfigured when the discovery issuer has a trailing slash', async () => {
    const setup = await setUpHostileProvider();
    await setup.provider.serveDiscovery({ issuer: `${setup.provider.issuer}/` });
    const response = await setup.edge.fetch('/auth/login?return_to=/dashboard');
    await expectLoginRefused(setup, response, { status: 502, code: 'provider_misconfigured' });
    expect(await sessionKeysFor(setup.subject)).toEqual([]);
  });
});
