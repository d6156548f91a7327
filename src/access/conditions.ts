/**
 * The access-rule evaluator: pure functions from a principal's current claims
 * (the refreshed session's or the verified token's) to a decision. Nothing
 * here is cached: the gateway evaluates on every request, cache hits included.
 */
import { isAtLeastYearsOld, kennitalaKind } from '../identity/kennitala.ts';
import type { Principal } from '../pipeline/principal.ts';
import type { AccessRules, Condition } from './rules.ts';

/** Why a principal was refused: which list refused and the conditions concerned (never their values). */
export interface Refusal {
  readonly rule: 'allow' | 'require' | 'deny';
  /** The condition that failed (`require`), held (`deny`), or every `allow` condition (none held). */
  readonly conditions: readonly Condition[];
}

/**
 * True when `condition` holds for `principal` at `nowSeconds`. A claim of the
 * wrong type (a number or array where a string belongs, a padded kennitala)
 * never holds.
 */
export function conditionHolds(condition: Condition, principal: Principal, nowSeconds: number): boolean {
  const claims = principal.claims;
  const nationalId = ownString(claims, 'national_id');
  switch (condition.type) {
    case 'everyone':
      return true;
    case 'national_id':
      return nationalId !== undefined && condition.values.includes(nationalId);
    case 'actor_national_id': {
      const actorId = principal.actor?.national_id;
      return typeof actorId === 'string' && condition.values.includes(actorId);
    }
    case 'sub': {
      // A session always has its sub; a token counts only with a sub claim (never a client_id standing in for one).
      const sub = principal.auth === 'session' ? principal.subject : ownString(claims, 'sub');
      return sub !== undefined && condition.values.includes(sub);
    }
    case 'kind':
      return kennitalaKind(nationalId) === condition.kind;
    case 'min_age':
      return isAtLeastYearsOld(nationalId, condition.years, new Date(nowSeconds * 1000));
    case 'delegation':
      if (condition.delegation === 'none') return principal.actor === undefined;
      if (condition.delegation === 'any') return principal.actor !== undefined;
      return (
        principal.actor !== undefined &&
        principal.delegationType !== undefined &&
        condition.delegation.includes(principal.delegationType)
      );
    case 'scope':
      return condition.scopes.every((scope) => principal.scopes.includes(scope));
    case 'auth':
      return principal.auth === condition.auth;
    case 'claim': {
      const value = ownString(claims, condition.name);
      return value !== undefined && condition.values.includes(value);
    }
  }
}

/**
 * Evaluates `rules` for `principal`: `deny` first (any holding refuses: deny
 * wins), then `require` (every one must hold), then `allow` (one must hold;
 * absent: anyone signed in). `undefined` when admitted.
 */
export function evaluateRules(rules: AccessRules, principal: Principal, nowSeconds: number): Refusal | undefined {
  const holds = (condition: Condition) => conditionHolds(condition, principal, nowSeconds);
  const denied = rules.deny?.find(holds);
  if (denied) return { rule: 'deny', conditions: [denied] };
  const missing = rules.require?.find((condition) => !holds(condition));
  if (missing) return { rule: 'require', conditions: [missing] };
  if (rules.allow && !rules.allow.some(holds)) return { rule: 'allow', conditions: rules.allow };
  return undefined;
}

function ownString(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}
