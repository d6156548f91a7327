/**
 * Every line the edge writes to the console during a test, and the one rule
 * every such line must pass (DESIGN.md "Logs"): a single JSON object with
 * `event` and `level`, only the whitelisted fields, and never a token, secret,
 * code, national id, cookie value, error message or stack.
 */
import { expect, vi } from 'vitest';

/** The console methods that are captured: everything that prints a line. */
const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** One captured console call: the method and its arguments as one line of text. */
export interface CapturedLine {
  method: (typeof METHODS)[number];
  text: string;
}

/** The console output of a test since {@link captureLogs}. */
export interface LogCapture {
  /** Every line written so far, in order, whatever the method. */
  lines(): CapturedLine[];
  /** The lines that parse as JSON objects (for asserting on events). */
  events(): Array<Record<string, unknown>>;
  /** Puts the console back (afterEach `vi.restoreAllMocks()` does too). */
  restore(): void;
}

/**
 * Starts recording every console line (`log`, `info`, `warn`, `error`,
 * `debug`, `trace`) without printing it. Errors are recorded with their
 * stack and cause, as the runtime would print them.
 */
export function captureLogs(): LogCapture {
  const lines: CapturedLine[] = [];
  const spies = METHODS.map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push({ method, text: args.map(printed).join(' ') });
    }),
  );
  return {
    lines: () => [...lines],
    events: () =>
      lines.flatMap(({ text }) => {
        try {
          const value = JSON.parse(text) as unknown;
          return typeof value === 'object' && value !== null && !Array.isArray(value) ? [value as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

/** How a console argument reads in the log: strings as they are, errors with stack and cause. */
function printed(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  if (arg instanceof Error) return [arg.stack ?? `${arg.name}: ${arg.message}`, arg.message, arg.cause === undefined ? '' : printed(arg.cause)].join('\n');
  try {
    return JSON.stringify(arg) ?? String(arg);
  } catch {
    return String(arg);
  }
}

/** The fields `logEvent` may write (src/log.ts `AuthLogFields`, plus `level`, `event`, `time`). */
const ALLOWED_FIELDS = new Set(['level', 'event', 'time', 'reason', 'session', 'path', 'method', 'status', 'detail']);

/** A JWT of any kind: three base64url segments, the first a JSON header. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./;

/**
 * Asserts the log rule on every captured line: one JSON object per line with
 * a known `level`, an `event` name and an ISO `time`; only whitelisted fields;
 * a stable `reason` code; a 12-hex-digit `session`; a `path` without query; no run of six or more
 * digits (a national id) outside `time`, `session`, `status` and `n_*`
 * numbers; no JWT, no `Bearer` credential, no edge cookie, no stack frame;
 * and none of `secrets` anywhere in any line.
 */
export function expectEveryLineFollowsLogRule(lines: ReadonlyArray<CapturedLine | string>, secrets: readonly string[] = []): void {
  for (const [index, line] of lines.entries()) {
    const { method, text } = typeof line === 'string' ? { method: 'log', text: line } : line;
    const label = `log line ${index} (console.${method}): ${text}`;
    expect(text, label).not.toContain('\n');
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      expect.fail(`${label}\nis not JSON`);
    }
    expect(typeof entry === 'object' && entry !== null && !Array.isArray(entry), `${label}\nis not a JSON object`).toBe(true);
    const fields = entry as Record<string, unknown>;
    expect(fields.level, label).toMatch(/^(info|warn|error)$/);
    expect(fields.event, label).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(fields.time, label).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (const [name, value] of Object.entries(fields)) {
      if (name.startsWith('n_')) expect(typeof value, `${label}\n${name}`).toBe('number');
      else expect(ALLOWED_FIELDS.has(name), `${label}\nfield ${name} is not allowed`).toBe(true);
    }
    if (fields.reason !== undefined) expect(fields.reason, label).toMatch(/^[a-z][a-z0-9_:]*$/);
    if (fields.session !== undefined) expect(fields.session, label).toMatch(/^[0-9a-f]{12}$/);
    if (fields.status !== undefined) expect(typeof fields.status, label).toBe('number');
    // A path, never a URL or a query string (where codes and tokens ride).
    if (fields.path !== undefined) expect(fields.path, label).toMatch(/^\/[^?#\s]*$/);
    if (fields.method !== undefined) expect(fields.method, label).toMatch(/^[A-Z]+$/);
    const free = Object.entries(fields)
      .filter(([name]) => !['time', 'session', 'status'].includes(name) && !name.startsWith('n_'))
      .map(([, value]) => String(value))
      .join(' ');
    expect(free, `${label}\ncarries a run of six or more digits`).not.toMatch(/\d{6,}/);
    expect(text, label).not.toMatch(JWT);
    expect(text, label).not.toMatch(/\bBearer\s/i);
    expect(text, label).not.toMatch(/__Host-kenni-[\w-]*=/);
    expect(text, label).not.toMatch(/\bat\s+\S+\s+\(|\.(?:ts|js|mjs):\d+/);
    for (const secret of secrets) expect(text, `${label}\ncarries a secret`).not.toContain(secret);
  }
}
