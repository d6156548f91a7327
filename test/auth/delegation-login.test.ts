/**
 * Delegated logins (issue 10, items 1 and 2) against the scripted provider: a
 * malformed `actor` or `delegation_type` in the ID token ends the login with
 * `id_token_invalid` and no session, never a half-used identity; a well-formed
 * one signs in.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { signJwt } from '../support/token-factory.ts';
import {
  callbackPath,
  callbackWithIdToken,
  expectLoginRefused,
  expectLoginSucceeded,
  idTokenClaims,
  setUpHostileProvider,
  startLogin,
  watchLogs,
  type LogWatch,
} from './hostile-provider-helpers.ts';

const ACTOR = { sub: 'kenni-person-1', national_id: '0101302989', name: 'Þórður Ævarsson' };
const COMPANY = { national_id: '5501692829', name: 'Ævarsson ehf.' };

let logs: LogWatch;
beforeEach(() => {
  logs = watchLogs();
});

describe('the actor claim at login', () => {
  it('accepts a well-formed delegation (control for the refusals below)', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const claims = idTokenClaims(setup, login, { ...COMPANY, actor: ACTOR, delegation_type: 'c:procurator' });
    const response = await callbackWithIdToken(setup, login, await signJwt(setup.key, claims));
    await expectLoginSucceeded(setup, response);
    const me = (await (await setup.edge.fetch('/auth/me')).json()) as Record<string, unknown>;
    expect(me).toMatchObject({ sub: setup.subject, actor: ACTOR, delegation_type: 'c:procurator' });
  });

  it.each([
    ['not an object (a string)', { actor: 'Þórður Ævarsson' }, 'actor_malformed'],
    ['an array', { actor: [ACTOR] }, 'actor_malformed'],
    ['null', { actor: null }, 'actor_malformed'],
    ['an object with a number national_id', { actor: { ...ACTOR, national_id: 101302989 } }, 'actor_malformed'],
    ['an object with a national_id that is no kennitala', { actor: { ...ACTOR, national_id: 'x' } }, 'actor_malformed'],
    ['an object naming no one', { actor: { name: ACTOR.name } }, 'actor_malformed'],
    ['with a number delegation_type', { actor: ACTOR, delegation_type: 7 }, 'delegation_type_malformed'],
  ])('refuses an actor that is %s: 400 id_token_invalid, no session', async (_label, overrides, reason) => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const claims = idTokenClaims(setup, login, { ...COMPANY, ...overrides });
    const response = await callbackWithIdToken(setup, login, await signJwt(setup.key, claims));
    const page = await expectLoginRefused(setup, response, {
      status: 400,
      code: 'id_token_invalid',
      login,
      reason,
      logs,
    });
    // The page explains in the reader's words; the exact reason is in the log line (checked above).
    expect(page).toContain('The answer from the sign-in service could not be verified, so you were not signed in.');
    expect(page).not.toContain(ACTOR.national_id);
  });
});

describe('a provider refusal about delegations', () => {
  /** Asserts the delegation page: 403, own text (English without Accept-Language), "Sign in as yourself" and "Back", no provider text. */
  async function expectDelegationPage(response: Response, login: Awaited<ReturnType<typeof startLogin>>) {
    const setup = current!;
    const page = await expectLoginRefused(setup, response, {
      status: 403,
      code: 'delegation_denied',
      login,
      reason: 'no_delegations',
      logs,
    });
    expect(page).toContain('<title>No delegation</title>');
    expect(page).toContain('No delegation was found for you, or access was refused.');
    expect(page).toContain('<a class="button" href="/auth/login?return_to=%2Fdashboard">Sign in as yourself</a>');
    expect(page).toContain('<a class="button" href="/dashboard">Back</a>');
    return page;
  }
  let current: Awaited<ReturnType<typeof setUpHostileProvider>> | undefined;

  it.each([
    'No delegations found for this user',
    'Engin umboð fundust',
    'user has no delegation <script>alert(1)</script> call +354 555 0000',
  ])('after prompt=delegation, access_denied (%s) is a delegation page with a way back', async (description) => {
    current = await setUpHostileProvider();
    const login = await startLogin(current.edge, '/auth/login?prompt=delegation&return_to=/dashboard');
    expect(login.authorizationUrl.searchParams.get('prompt')).toBe('delegation');
    const response = await current.edge.fetch(
      callbackPath(current, login, { code: undefined, error: 'access_denied', error_description: description }),
    );
    const page = await expectDelegationPage(response, login);
    // The provider's own words never reach the page.
    expect(page).not.toContain(description.slice(0, 20));
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('+354');
  });

  it('without a delegation prompt, an access_denied that speaks of delegations is the delegation page too', async () => {
    current = await setUpHostileProvider();
    const login = await startLogin(current.edge);
    const response = await current.edge.fetch(
      callbackPath(current, login, {
        code: undefined,
        error: 'access_denied',
        error_description: 'No delegations found',
      }),
    );
    await expectDelegationPage(response, login);
  });

  it('an access_denied that has nothing to do with delegations stays the plain access_denied page', async () => {
    current = await setUpHostileProvider();
    const login = await startLogin(current.edge);
    const response = await current.edge.fetch(
      callbackPath(current, login, { code: undefined, error: 'access_denied', error_description: 'User cancelled' }),
    );
    const page = await expectLoginRefused(current, response, { status: 403, code: 'access_denied', login, logs });
    expect(page).not.toContain('Sign in as yourself');
  });

  it('after prompt=delegation, another provider error stays what it is', async () => {
    current = await setUpHostileProvider();
    const login = await startLogin(current.edge, '/auth/login?prompt=delegation&return_to=/dashboard');
    const response = await current.edge.fetch(callbackPath(current, login, { code: undefined, error: 'server_error' }));
    await expectLoginRefused(current, response, { status: 400, code: 'provider_error', login, logs });
  });
});
