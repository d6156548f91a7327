/**
 * Access rules for the library (`requireSession({ rules })`, `requireBearer({ rules })`,
 * `requireAccess(rules)`): the same objects a `ROUTES` entry holds, typed, and
 * validated by the same strict parser, once, when the middleware is created.
 */
import { addProblem, isRecord } from '../config-values.ts';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { parseRoutes } from './parse-routes.ts';
import type { AccessRules } from './rules.ts';

/**
 * One condition as written in `ROUTES`: an object with exactly one key.
 * @example
 * const adults: ConditionSpec = { min_age: 18 };
 */
export type ConditionSpec =
  | { readonly everyone: true }
  | { readonly national_id: readonly string[] }
  | { readonly actor_national_id: readonly string[] }
  | { readonly sub: readonly string[] }
  | { readonly kind: 'person' | 'company' }
  | { readonly min_age: number }
  | { readonly delegation: 'none' | 'any' | readonly string[] }
  | { readonly scope: readonly string[] }
  | { readonly auth: 'session' | 'bearer' }
  | { readonly claim: Readonly<Record<string, readonly string[]>> };

/**
 * The rule keys of a `ROUTES` entry: `allow` (one must hold), `require` (every
 * one must hold), `deny` (any holding refuses; deny wins) and `max_auth_age`
 * (seconds; step-up).
 * @example
 * const adminOnly: AccessRuleSpec = { allow: [{ national_id: ['0101302989'] }], deny: [{ delegation: 'any' }] };
 */
export interface AccessRuleSpec {
  readonly allow?: readonly ConditionSpec[];
  readonly require?: readonly ConditionSpec[];
  readonly deny?: readonly ConditionSpec[];
  readonly max_auth_age?: number;
}

/** Validated library rules: the evaluator's rules and, when asked for, the step-up age. */
export interface ParsedRuleSpec {
  readonly rules: AccessRules;
  readonly maxAuthAge?: number;
}

const SPEC_KEYS = new Set(['allow', 'require', 'deny', 'max_auth_age']);
const FIX = 'use the keys and conditions of a ROUTES entry (see "Access rules and routes" in the README)';

/**
 * Validates `spec` with the `ROUTES` parser and returns it parsed; throws a
 * {@link ConfigError} naming `where` (e.g. `requireSession({ rules })`) and the
 * key when anything is unknown or malformed, so a typo never leaves a route open.
 */
export function parseRuleSpec(spec: unknown, where: string): ParsedRuleSpec {
  const problems: ConfigProblem[] = [];
  const report = (problem: string) => addProblem(problems, where, problem, FIX);
  if (!isRecord(spec)) {
    report('must be an object with "allow", "require", "deny" or "max_auth_age"');
    throw new ConfigError(problems);
  }
  for (const key of Object.keys(spec)) if (!SPEC_KEYS.has(key)) report(`"${key}" is not a rule key`);
  if (problems.length > 0) throw new ConfigError(problems);

  // The very parser of a ROUTES entry, on an entry made of these keys alone: the same checks, the same conditions.
  const routeProblems: ConfigProblem[] = [];
  const [entry] = parseRoutes([{ ...spec, path: '/' }], { publicPaths: [], apiPaths: [] }, routeProblems);
  for (const { problem } of routeProblems) report(problem.replace(/^route "\/": /, ''));
  if (problems.length > 0 || !entry) throw new ConfigError(problems);
  const maxAuthAge = spec.max_auth_age;
  return Object.freeze({ rules: entry.rules, ...(typeof maxAuthAge === 'number' ? { maxAuthAge } : {}) });
}
