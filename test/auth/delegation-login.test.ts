/**
 * Delegated logins (issue 10, items 1 and 2) against the scripted provider: a
 * malformed `actor` or `delegation_type` in the ID token ends the login with
 * `id_token_invalid` and no session, never a half-used identity; a well-formed
 * one signs in.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { signJwt } from '../support/token-factory.ts';
import {
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
    expect(page).toContain('named the person acting for you in a form this site does not accept');
    expect(page).not.toContain(ACTOR.national_id);
  });
});
