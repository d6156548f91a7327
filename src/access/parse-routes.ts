/**
 * `ROUTES`: parsed and validated strictly, once per isolate with the rest of
 * the configuration. Every problem names `ROUTES`, the entry's `path` and the
 * key, so a typo is a configuration error and never a silently open route.
 */
import { addProblem, isDotSegment, isRecord, parseUrl } from '../config-values.ts';
import type { ConfigProblem } from '../errors.ts';
import { MAX_AUTH_AGE_LIMIT, type Condition, type ConditionType, type RouteEntry } from './rules.ts';

const ROUTE_KEYS = new Set(['path', 'methods', 'public', 'api', 'origin', 'allow', 'require', 'deny', 'max_auth_age']);
const RULE_KEYS = ['allow', 'require', 'deny'] as const;
const NATIONAL_ID = /^[0-9]{10}$/;
const METHOD = /^[A-Za-z]+$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const FIX = 'see "Access rules (ROUTES)" in the README for every key and condition';

/** What `ROUTES` is checked against: the shorthand lists it must not repeat. */
export interface RouteListContext {
  readonly publicPaths: readonly string[];
  readonly apiPaths: readonly string[];
}

/**
 * Parses `ROUTES` (a JSON string, or the array wrangler passes for a TOML
 * array of inline tables) into frozen {@link RouteEntry} values; problems are
 * appended to `problems` (variable `ROUTES`) and the result is then empty.
 */
export function parseRoutes(raw: unknown, context: RouteListContext, problems: ConfigProblem[]): readonly RouteEntry[] {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return Object.freeze([]);
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      addProblem(problems, 'ROUTES', 'is not JSON (expected a list of route objects)', FIX);
      return Object.freeze([]);
    }
  }
  if (!Array.isArray(value)) {
    addProblem(problems, 'ROUTES', 'must be a list of route objects', FIX);
    return Object.freeze([]);
  }
  const before = problems.length;
  const entries = value.map((item, index) => parseEntry(item, index, problems));
  const valid = entries.filter((entry): entry is RouteEntry => entry !== undefined);
  checkDuplicates(valid, context, problems);
  return problems.length > before ? Object.freeze([]) : Object.freeze(valid);
}

function parseEntry(item: unknown, index: number, problems: ConfigProblem[]): RouteEntry | undefined {
  if (!isRecord(item)) {
    addProblem(problems, 'ROUTES', `entry ${index + 1} is not an object`, FIX);
    return undefined;
  }
  const path = item.path;
  if (typeof path !== 'string' || !isPathPrefix(path)) {
    addProblem(
      problems,
      'ROUTES',
      `entry ${index + 1}: "path" must be a path prefix starting with "/" (no "..", "//", "?", "#" or spaces)`,
      FIX,
    );
    return undefined;
  }
  const at = (key: string, problem: string) =>
    addProblem(problems, 'ROUTES', `route "${path}": "${key}" ${problem}`, FIX);
  const before = problems.length;
  for (const key of Object.keys(item)) if (!ROUTE_KEYS.has(key)) at(key, 'is not a route key');

  let methods: string[] | undefined;
  if (item.methods !== undefined) {
    if (!isNonEmptyList(item.methods) || !item.methods.every((m) => typeof m === 'string' && METHOD.test(m))) {
      at('methods', 'must be a non-empty list of HTTP methods, e.g. ["GET", "POST"]');
    } else {
      methods = [...new Set(item.methods.map((m) => (m as string).toUpperCase()))];
      // An origin answers HEAD as it answers GET, so a rule on GET also covers HEAD.
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    }
  }
  for (const flag of ['public', 'api'] as const) {
    if (item[flag] !== undefined && typeof item[flag] !== 'boolean') at(flag, 'must be true or false');
  }
  const isPublic = item.public === true;
  if (isPublic && item.api === true) at('public', 'cannot be combined with "api": true');
  if (isPublic) {
    for (const key of [...RULE_KEYS, 'max_auth_age'])
      if (item[key] !== undefined) at(key, 'cannot be set on a public route (it is forwarded without sign-in)');
  }

  let origin: URL | undefined;
  if (item.origin !== undefined) {
    const url = typeof item.origin === 'string' ? parseUrl(item.origin) : undefined;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || /[?#]/.test(item.origin as string)) {
      at('origin', 'must be an absolute http(s) URL without a query or fragment');
    } else if (url.username || url.password) {
      at('origin', 'must not carry credentials');
    } else origin = url;
  }

  const rules: Partial<Record<(typeof RULE_KEYS)[number], readonly Condition[]>> = {};
  for (const key of RULE_KEYS) {
    if (item[key] === undefined) continue;
    if (!isNonEmptyList(item[key])) {
      at(key, 'must be a non-empty list of conditions');
      continue;
    }
    const conditions = (item[key] as unknown[]).map((raw) => parseCondition(raw, (problem) => at(key, problem)));
    rules[key] = Object.freeze(conditions.filter((c): c is Condition => c !== undefined));
  }

  let maxAuthAge: number | undefined;
  if (item.max_auth_age !== undefined) {
    const age = item.max_auth_age;
    if (typeof age !== 'number' || !Number.isSafeInteger(age) || age < 0 || age > MAX_AUTH_AGE_LIMIT) {
      at('max_auth_age', `must be a whole number of seconds from 0 to ${MAX_AUTH_AGE_LIMIT} (one year)`);
    } else maxAuthAge = age;
  }

  if (problems.length > before) return undefined;
  return Object.freeze({
    path,
    ...(methods ? { methods: Object.freeze(methods) } : {}),
    kind: isPublic ? 'public' : item.api === true ? 'api' : 'page',
    ...(origin ? { origin } : {}),
    rules: Object.freeze({
      ...(rules.allow ? { allow: rules.allow } : {}),
      require: rules.require ?? Object.freeze([]),
      deny: rules.deny ?? Object.freeze([]),
    }),
    ...(maxAuthAge !== undefined ? { maxAuthAge } : {}),
  } satisfies RouteEntry);
}

/** One condition object (exactly one key of the contract), or `undefined` after reporting why not. */
export function parseCondition(raw: unknown, report: (problem: string) => void): Condition | undefined {
  if (!isRecord(raw) || Object.keys(raw).length !== 1) {
    report('holds a condition that is not an object with exactly one key');
    return undefined;
  }
  const [type, value] = Object.entries(raw)[0]!;
  const bad = (expected: string) => {
    report(`holds a "${type}" condition whose value is not ${expected}`);
    return undefined;
  };
  switch (type as ConditionType) {
    case 'everyone':
      return value === true ? { type: 'everyone' } : bad('true');
    case 'national_id':
    case 'actor_national_id':
      return isStringList(value) && value.every((id) => NATIONAL_ID.test(id))
        ? { type: type as 'national_id', values: Object.freeze([...value]) }
        : bad('a non-empty list of national ids of exactly 10 digits');
    case 'sub':
      return isStringList(value)
        ? { type: 'sub', values: Object.freeze([...value]) }
        : bad('a non-empty list of strings');
    case 'kind':
      return value === 'person' || value === 'company' ? { type: 'kind', kind: value } : bad('"person" or "company"');
    case 'min_age':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= 150
        ? { type: 'min_age', years: value }
        : bad('a whole number of years from 0 to 150');
    case 'delegation':
      if (value === 'none' || value === 'any') return { type: 'delegation', delegation: value };
      return isStringList(value)
        ? { type: 'delegation', delegation: Object.freeze([...value]) }
        : bad('"none", "any" or a non-empty list of delegation types');
    case 'scope':
      return isStringList(value) && value.every((scope) => SCOPE_TOKEN.test(scope))
        ? { type: 'scope', scopes: Object.freeze([...value]) }
        : bad('a non-empty list of scope names');
    case 'auth':
      return value === 'session' || value === 'bearer' ? { type: 'auth', auth: value } : bad('"session" or "bearer"');
    case 'claim': {
      if (!isRecord(value) || Object.keys(value).length !== 1) return bad('an object with exactly one claim name');
      const [name, values] = Object.entries(value)[0]!;
      return name !== '' && isStringList(values)
        ? { type: 'claim', name, values: Object.freeze([...values]) }
        : bad('{"<claim name>": ["value", …]}');
    }
    default:
      report(`holds an unknown condition "${type}"`);
      return undefined;
  }
}

/**
 * The same path twice is an error (unless at most one lacks methods and none are shared),
 * and so is a path also in `PUBLIC_PATHS` or `API_PATHS`. Paths compare in any
 * letter case: routes with rules match in any letter case.
 */
function checkDuplicates(entries: readonly RouteEntry[], context: RouteListContext, problems: ConfigProblem[]) {
  const key = (path: string) => path.toLowerCase().replace(/\/+$/, '') || '/';
  const shorthand = new Map<string, string>();
  for (const path of context.publicPaths) shorthand.set(key(path), 'PUBLIC_PATHS');
  for (const path of context.apiPaths) shorthand.set(key(path), 'API_PATHS');
  const seen = new Map<string, RouteEntry[]>();
  for (const entry of entries) {
    const list = shorthand.get(key(entry.path));
    if (list) {
      addProblem(
        problems,
        'ROUTES',
        `route "${entry.path}": "path" is also in ${list}`,
        `keep the path in one place: remove it from ${list} and give the ROUTES entry "${list === 'PUBLIC_PATHS' ? 'public' : 'api'}": true`,
      );
    }
    const earlier = seen.get(key(entry.path)) ?? [];
    // On a tie an entry with methods beats one without, so only two without (or two sharing a method) clash.
    const clash = earlier.some((other) =>
      !other.methods || !entry.methods
        ? !other.methods && !entry.methods
        : other.methods.some((m) => entry.methods!.includes(m)),
    );
    if (clash) {
      addProblem(
        problems,
        'ROUTES',
        `route "${entry.path}": "path" appears twice for the same methods`,
        'merge the entries, or give each its own "methods"',
      );
    }
    seen.set(key(entry.path), [...earlier, entry]);
  }
}

function isPathPrefix(path: string): boolean {
  return (
    path.startsWith('/') &&
    !/[?#\s]/.test(path) &&
    !path.includes('..') &&
    !path.includes('//') &&
    !path.split('/').some(isDotSegment)
  );
}

function isNonEmptyList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length > 0;
}

function isStringList(value: unknown): value is string[] {
  return isNonEmptyList(value) && value.every((item) => typeof item === 'string' && item !== '');
}
