/**
 * The access-rule evaluator (issue 11): a matrix per condition (holds, fails,
 * malformed claim), allow/require/deny with deny winning, and `authorize`'s
 * answers (403 access_denied, insufficient_scope for bearer scope failures).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { conditionHolds, evaluateRules } from '../../src/access/conditions.ts';
import type { Condition } from '../../src/access/rules.ts';
import { AppError, errorResponse } from '../../src/errors.ts';
import type { Route } from '../../src/gateway/route.ts';
import { authorize } from '../../src/pipeline/authorize.ts';
import type { Principal } from '../../src/pipeline/principal.ts';
import { captureLogs } from '../support/log-capture.ts';

afterEach(() => {
  vi.useRealTimers();
});

const NOW = Date.UTC(2026, 2, 15, 12) / 1000; // 15 March 2026
const THORDUR = { sub: 'dev-user-thordur', national_id: '0101302989', name: 'Þórður Ævarsson' };
const COMPANY = { sub: 'dev-company', national_id: '5501692829', name: 'Ævarsson ehf.' };

function person(claims: Record<string, unknown> = THORDUR, extra: Partial<Principal> = {}): Principal {
  return { subject: String(claims.sub ?? 'x'), claims, auth: 'session', scopes: [], ...extra };
}
const delegated = person(COMPANY, {
  actor: { sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name },
  delegationType: 'c:procurator',
});
const bearer = (claims: Record<string, unknown>, scopes: string[]) => person(claims, { auth: 'bearer', scopes });

const MALFORMED_IDS: Array<[string, unknown]> = [
  ['a number', 101302989],
  ['an array', ['0101302989']],
  ['a trailing space', '0101302989 '],
  ['a dash', '010130-2989'],
];

describe('conditions', () => {
  const holds = (condition: Condition, principal: Principal) => conditionHolds(condition, principal, NOW);

  it('everyone: any signed-in identity', () => {
    expect(holds({ type: 'everyone' }, person())).toBe(true);
    expect(holds({ type: 'everyone' }, bearer({}, []))).toBe(true);
  });

  it('national_id: holds, fails, and a malformed claim never holds', () => {
    const condition: Condition = { type: 'national_id', values: ['0101302989'] };
    expect(holds(condition, person())).toBe(true);
    expect(holds(condition, person({ ...THORDUR, national_id: '1203894599' }))).toBe(false);
    expect(holds(condition, person({ sub: 'no-id' }))).toBe(false);
    for (const [label, value] of MALFORMED_IDS)
      expect(holds(condition, person({ ...THORDUR, national_id: value })), label).toBe(false);
    // A delegated sign-in: the subject is the company, not the acting person.
    expect(holds(condition, delegated)).toBe(false);
  });

  it('actor_national_id: the acting person of a delegation only', () => {
    const condition: Condition = { type: 'actor_national_id', values: ['0101302989'] };
    expect(holds(condition, delegated)).toBe(true);
    expect(holds(condition, person())).toBe(false);
    expect(holds(condition, person(COMPANY, { actor: { sub: 'a', national_id: '1203894599' } }))).toBe(false);
  });

  it('sub: the session subject; a token only by its sub claim (never a client_id)', () => {
    const condition: Condition = { type: 'sub', values: ['dev-user-thordur'] };
    expect(holds(condition, person())).toBe(true);
    expect(holds(condition, person({ ...THORDUR, sub: 'other' }))).toBe(false);
    expect(holds(condition, bearer({ sub: 'dev-user-thordur' }, []))).toBe(true);
    expect(holds(condition, bearer({ client_id: 'dev-user-thordur' }, []))).toBe(false);
    expect(holds(condition, bearer({ sub: ['dev-user-thordur'] }, []))).toBe(false);
  });

  it('kind: person or company from the subject kennitala; malformed is neither', () => {
    expect(holds({ type: 'kind', kind: 'person' }, person())).toBe(true);
    expect(holds({ type: 'kind', kind: 'company' }, person())).toBe(false);
    expect(holds({ type: 'kind', kind: 'company' }, delegated)).toBe(true);
    expect(holds({ type: 'kind', kind: 'person' }, delegated)).toBe(false);
    for (const [label, value] of MALFORMED_IDS) {
      expect(holds({ type: 'kind', kind: 'person' }, person({ national_id: value })), label).toBe(false);
      expect(holds({ type: 'kind', kind: 'company' }, person({ national_id: value })), label).toBe(false);
    }
  });

  it('min_age: the day before, on and after the birthday; 29 February; companies and malformed never', () => {
    const teen = (today: number) =>
      conditionHolds({ type: 'min_age', years: 18 }, person({ national_id: '1503082990' }), today);
    expect(teen(NOW - 86_400)).toBe(false);
    expect(teen(NOW)).toBe(true);
    expect(teen(NOW + 86_400)).toBe(true);
    const leapling = person({ national_id: '2902082990' });
    expect(conditionHolds({ type: 'min_age', years: 18 }, leapling, Date.UTC(2026, 1, 28) / 1000)).toBe(false);
    expect(conditionHolds({ type: 'min_age', years: 18 }, leapling, Date.UTC(2026, 2, 1) / 1000)).toBe(true);
    expect(holds({ type: 'min_age', years: 18 }, delegated)).toBe(false);
    for (const [label, value] of MALFORMED_IDS)
      expect(holds({ type: 'min_age', years: 0 }, person({ national_id: value })), label).toBe(false);
  });

  it('delegation: none, any, and by delegation_type', () => {
    expect(holds({ type: 'delegation', delegation: 'none' }, person())).toBe(true);
    expect(holds({ type: 'delegation', delegation: 'none' }, delegated)).toBe(false);
    expect(holds({ type: 'delegation', delegation: 'any' }, delegated)).toBe(true);
    expect(holds({ type: 'delegation', delegation: 'any' }, person())).toBe(false);
    expect(holds({ type: 'delegation', delegation: ['c:procurator'] }, delegated)).toBe(true);
    expect(holds({ type: 'delegation', delegation: ['c:signatory'] }, delegated)).toBe(false);
    expect(
      holds({ type: 'delegation', delegation: ['c:procurator'] }, person({}, { delegationType: 'c:procurator' })),
    ).toBe(false);
  });

  it('scope: every listed scope on the token', () => {
    expect(holds({ type: 'scope', scopes: ['a', 'b'] }, bearer({}, ['a', 'b', 'c']))).toBe(true);
    expect(holds({ type: 'scope', scopes: ['a', 'b'] }, bearer({}, ['a']))).toBe(false);
    expect(holds({ type: 'scope', scopes: ['a'] }, person())).toBe(false);
  });

  it('auth: session or bearer', () => {
    expect(holds({ type: 'auth', auth: 'session' }, person())).toBe(true);
    expect(holds({ type: 'auth', auth: 'session' }, bearer({}, []))).toBe(false);
    expect(holds({ type: 'auth', auth: 'bearer' }, bearer({}, []))).toBe(true);
  });

  it('claim: a top-level string claim equal to one of the values; other types and inherited names never', () => {
    const condition: Condition = { type: 'claim', name: 'department', values: ['finance'] };
    expect(holds(condition, person({ department: 'finance' }))).toBe(true);
    expect(holds(condition, person({ department: 'sales' }))).toBe(false);
    expect(holds(condition, person({ department: ['finance'] }))).toBe(false);
    expect(holds(condition, person({}))).toBe(false);
    expect(
      holds({ type: 'claim', name: 'constructor', values: ['function Object() { [native code] }'] }, person({})),
    ).toBe(false);
  });
});

describe('allow / require / deny', () => {
  const isPerson: Condition = { type: 'kind', kind: 'person' };
  const isCompany: Condition = { type: 'kind', kind: 'company' };
  const thordur: Condition = { type: 'national_id', values: ['0101302989'] };
  const evaluate = (rules: Parameters<typeof evaluateRules>[0], principal = person()) =>
    evaluateRules(rules, principal, NOW);

  it('no rules admit anyone signed in; allow needs one, require needs all', () => {
    expect(evaluate({})).toBeUndefined();
    expect(evaluate({ allow: [isCompany, thordur] })).toBeUndefined();
    expect(evaluate({ allow: [isCompany] })).toEqual({ rule: 'allow', conditions: [isCompany] });
    expect(evaluate({ require: [isPerson, thordur] })).toBeUndefined();
    expect(evaluate({ require: [isPerson, isCompany] })).toEqual({ rule: 'require', conditions: [isCompany] });
  });

  it('deny wins over allow and require', () => {
    expect(evaluate({ allow: [thordur], require: [isPerson], deny: [thordur] })).toEqual({
      rule: 'deny',
      conditions: [thordur],
    });
    expect(evaluate({ allow: [thordur], deny: [isCompany] })).toBeUndefined();
  });
});

describe('authorize', () => {
  const route = (rules: Route['rules']): Route => ({ kind: 'page', origin: undefined, rules });
  const refusal = (principal: Principal, rules: Route['rules']): AppError => {
    try {
      authorize(principal, route(rules), { returnTo: '/admin?x=1', path: '/admin', method: 'GET' });
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      return error as AppError;
    }
    throw new Error('expected a refusal');
  };

  it('refuses with 403 access_denied and logs the kind of condition, never its value', () => {
    vi.useFakeTimers({ now: NOW * 1000 });
    const logs = captureLogs();
    const error = refusal(person(), { allow: [{ type: 'national_id', values: ['1203894599'] }] });
    expect(error.code).toBe('access_denied');
    expect(error.status).toBe(403);
    const line = logs.events().find((event) => event.event === 'access_denied');
    expect(line).toMatchObject({ event: 'access_denied', reason: 'national_id', path: '/admin', method: 'GET' });
    expect(JSON.stringify(logs.events())).not.toContain('1203894599');
    expect(JSON.stringify(logs.events())).not.toContain('0101302989');
  });

  it('the page says who is signed in and for whom, with sign-out and switch-delegation links', async () => {
    const error = refusal(delegated, { deny: [{ type: 'delegation', delegation: 'any' }] });
    const response = errorResponse(error, 'page', 'en');
    expect(response.status).toBe(403);
    const html = await response.text();
    expect(html).toContain('<title>Access denied</title>');
    expect(html).toContain(
      'You are signed in as <strong>Þórður Ævarsson</strong> on behalf of <strong>Ævarsson ehf.</strong>',
    );
    expect(html).toContain('<form method="post" action="/auth/logout">');
    expect(html).toContain('href="/auth/login?prompt=delegation&#38;return_to=%2Fadmin%3Fx%3D1"');
    expect(html).not.toContain('0101302989');
    const icelandic = await errorResponse(error, 'page', 'is').text();
    expect(icelandic).toContain('<title>Aðgangi hafnað</title>');
    expect(icelandic).toContain(
      'Þú ert skráð(ur) inn sem <strong>Þórður Ævarsson</strong> fyrir hönd <strong>Ævarsson ehf.</strong>',
    );
    expect(icelandic).not.toContain('0101302989');
  });

  it('JSON for everything else; a bearer token missing a scope gets insufficient_scope with scope="…"', async () => {
    const json = errorResponse(refusal(person(), { require: [{ type: 'kind', kind: 'company' }] }), 'json');
    expect(json.status).toBe(403);
    expect(await json.json()).toMatchObject({ error: 'access_denied', code: 'access_denied' });

    const scoped = refusal(bearer({ sub: 's' }, ['a']), {
      require: [{ type: 'scope', scopes: ['a', 'orders:write'] }],
    });
    expect(scoped.code).toBe('insufficient_scope');
    const response = errorResponse(scoped, 'json');
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(response.headers.get('www-authenticate')).toContain('scope="a orders:write"');
    // The same failure in a session is access_denied (a browser cannot ask for a scope).
    expect(refusal(person(), { require: [{ type: 'scope', scopes: ['a'] }] }).code).toBe('access_denied');
  });
});
