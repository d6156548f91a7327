/**
 * Readers for single configuration values (strings, seconds, path lists, URLs,
 * the edge signing keys). Each reports a problem by variable name instead of
 * throwing, so {@link parseConfig} can list every problem at once.
 */
import type { ConfigProblem } from './errors.ts';

/** The value readers for one environment; problems are appended to `problems`. */
export interface VariableReader {
  /** The trimmed string value, or `undefined` when unset or empty. */
  text(name: string): string | undefined;
  /** A whole number of seconds within bounds, else the fallback (and a problem). */
  seconds(name: string, fallback: number, min: number, max: number): number;
  /** Comma-separated path prefixes, each checked. */
  pathList(name: string, fallback: string[]): string[];
}

/** Creates the readers for `env`, reporting into `problems`. */
export function createVariableReader(
  env: Readonly<Record<string, unknown>>,
  problems: ConfigProblem[],
): VariableReader {
  const text = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      addProblem(problems, name, 'must be a string', `set ${name} as a plain string in [vars] or as a secret`);
      return undefined;
    }
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  };
  const seconds = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      addProblem(
        problems,
        name,
        `"${raw}" is not a whole number of seconds between ${min} and ${max}`,
        `set ${name} to e.g. "${fallback}"`,
      );
      return fallback;
    }
    return Number(raw);
  };
  const pathList = (name: string, fallback: string[]): string[] => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    for (const item of items) {
      // A dot segment (plain or percent-encoded) never survives the gateway's normalisation, so such an entry would match nothing.
      if (
        !item.startsWith('/') ||
        /[?#\s]/.test(item) ||
        item.includes('..') ||
        item.includes('//') ||
        item.split('/').some(isDotSegment)
      ) {
        addProblem(
          problems,
          name,
          `"${item}" is not a path prefix`,
          `use comma-separated prefixes that start with "/", e.g. "/public/,/favicon.ico"`,
        );
      }
    }
    return items;
  };
  return { text, seconds, pathList };
}

/** `.` or `..`, also percent-encoded (`%2e`): a segment the gateway resolves away before matching. */
export function isDotSegment(segment: string): boolean {
  return /^(?:\.|%2e){1,2}$/i.test(segment);
}

/**
 * True for a `?`, `#` or `@`-before-the-path that the URL parser drops when empty
 * (`https://idp/x#`, `https://@idp/x`): the issuer is compared byte for byte, so these must be refused too.
 */
export function hasEmptyQueryFragmentOrUserinfo(value: string): boolean {
  return /[?#]/.test(value) || /^[a-z][a-z\d+.-]*:\/\/[^/?#\\]*@/i.test(value);
}

/** The value as a URL, or `undefined` when it is not one. */
export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** An optional absolute http(s) URL setting; anything else is a problem naming `variable`. */
export function optionalUrl(
  variable: string,
  value: string | undefined,
  problems: ConfigProblem[],
  fix: string,
): string | undefined {
  if (value === undefined) return undefined;
  const url = parseUrl(value);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    addProblem(problems, variable, `"${value}" is not an absolute http(s) URL`, `set it to ${fix}`);
    return undefined;
  }
  return value;
}

/** `EDGE_SIGNING_KEY`: one private ES256 JWK, or `{"keys":[new, old…]}` where the first signs. */
export function parseEdgeSigningKeys(raw: string | undefined, problems: ConfigProblem[]): JsonWebKey[] {
  if (raw === undefined) return [];
  const fix =
    'generate one with `npm run dev` (it writes .dev.vars) or `npx node dev/generate-edge-key.ts`, then `npx wrangler secret put EDGE_SIGNING_KEY`';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    addProblem(
      problems,
      'EDGE_SIGNING_KEY',
      'is not JSON (expected a private ES256 JWK, or {"keys":[…]} to rotate)',
      fix,
    );
    return [];
  }
  const keys = isRecord(parsed) && Array.isArray(parsed.keys) ? (parsed.keys as unknown[]) : [parsed];
  const valid: JsonWebKey[] = [];
  keys.forEach((key, index) => {
    if (
      !isRecord(key) ||
      key.kty !== 'EC' ||
      key.crv !== 'P-256' ||
      typeof key.x !== 'string' ||
      typeof key.y !== 'string'
    ) {
      addProblem(problems, 'EDGE_SIGNING_KEY', `key ${index + 1} is not a P-256 EC JWK (ES256)`, fix);
    } else if (index === 0 && typeof key.d !== 'string') {
      addProblem(problems, 'EDGE_SIGNING_KEY', 'the first key must be a private key (it needs "d")', fix);
    } else {
      valid.push(key as unknown as JsonWebKey);
    }
  });
  if (keys.length === 0) addProblem(problems, 'EDGE_SIGNING_KEY', 'contains no key', fix);
  return valid;
}

/**
 * `SESSION_SECRET_PREVIOUS`: old session secrets (separated by commas or
 * whitespace) that still open sealed sessions and login transactions while a
 * rotation settles. A problem names the entry by position and length only:
 * never a secret's text.
 */
export function parsePreviousSessionSecrets(
  raw: string | undefined,
  current: string | undefined,
  problems: ConfigProblem[],
): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(/[\s,]+/).filter(Boolean);
  entries.forEach((secret, index) => {
    if (secret.length < 32) {
      addProblem(
        problems,
        'SESSION_SECRET_PREVIOUS',
        `entry ${index + 1} of ${entries.length} is too short (${secret.length} characters; at least 32 are needed)`,
        'list the previous SESSION_SECRET values exactly, separated by commas or spaces, with `npx wrangler secret put SESSION_SECRET_PREVIOUS`',
      );
    }
  });
  // The current secret is tried first anyway; listing it again would only cost a second attempt.
  return [...new Set(entries)].filter((secret) => secret.length >= 32 && secret !== current);
}

/** True for a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Adds a configuration problem (positional arguments: shorter call sites once minified). */
export function addProblem(problems: ConfigProblem[], variable: string, problem: string, fix: string): void {
  problems.push({ variable, problem, fix });
}
