/**
 * Every line the edge writes to the console during a test, and the one rule
 * every such line must pass (DESIGN.md "Logs"): a single JSON object with
 * `event` and `level`, only the whitelisted fields, and never a token, secret,
 * code, national id, cookie value, error message or stack.
 *
 * `test/support/setup-logs.ts` installs the capture for every workers test
 * file: each console line of a test is buffered, dropped when the test passes
 * and printed when it fails. Tests read the current test's lines here
 * ({@link captureLogs}, {@link testLines}) instead of spying on the console.
 */
import { expect } from 'vitest';

/** The console methods that are captured: everything that prints a line. */
const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

/** A console method the capture replaces. */
type Method = (typeof METHODS)[number];

/** One captured console call: the method and its arguments as one line of text. */
export interface CapturedLine {
  method: Method;
  text: string;
}

/** A captured line with what is needed to print it as the runtime would. */
interface HeldLine extends CapturedLine {
  seq: number;
  args: unknown[];
  print: (...args: unknown[]) => void;
}

/** Buffers shared by every copy of this module in the isolate (setup file and test file may load it apart). */
interface CaptureState {
  seq: number;
  /** True between {@link beginTestLogs} and {@link endTestLogs}. */
  inTest: boolean;
  /** The lines of the running test. */
  test: HeldLine[];
  /** Lines written outside any test (module scope, `beforeAll`, `afterAll`). */
  outside: HeldLine[];
  /** `console.log` as it was before the capture, for {@link report}. */
  print?: (...args: unknown[]) => void;
}

const STATE_KEY = Symbol.for('kenni-edge.test.log-capture');
const WRAPPED = Symbol.for('kenni-edge.test.log-capture.wrapped');

function state(): CaptureState {
  const holder = globalThis as unknown as Record<symbol, CaptureState | undefined>;
  holder[STATE_KEY] ??= { seq: 0, inTest: false, test: [], outside: [] };
  return holder[STATE_KEY];
}

/**
 * Replaces the console methods of the current `globalThis.console` with ones
 * that buffer each line instead of printing it. Idempotent per console object
 * (Vitest installs its own console per worker), and outside `vi`'s mock
 * registry, so `vi.restoreAllMocks()` leaves it in place.
 */
export function installLogCapture(): void {
  const target = (globalThis as unknown as { console: Console & { [WRAPPED]?: true } }).console;
  if (target[WRAPPED]) return;
  for (const method of METHODS) {
    const original = target[method].bind(target) as (...args: unknown[]) => void;
    if (method === 'log') state().print = original;
    target[method] = (...args: unknown[]) => {
      const held = state();
      const line: HeldLine = { seq: held.seq++, method, text: args.map(printed).join(' '), args, print: original };
      (held.inTest ? held.test : held.outside).push(line);
    };
  }
  target[WRAPPED] = true;
}

/** Prints a line a test means to show on every run (a measurement), past the capture. */
export function report(text: string): void {
  (state().print ?? console.log)(text);
}

/** Starts a test's buffer (the setup file calls it in `beforeEach`). */
export function beginTestLogs(): void {
  const held = state();
  held.inTest = true;
  held.test = [];
}

/** Ends a test's buffer: prints it when the test failed, drops it otherwise. */
export function endTestLogs(failed: boolean): void {
  const held = state();
  if (failed) printAll(held.test);
  held.inTest = false;
  held.test = [];
}

/** Ends a file: prints the lines written outside tests when something in the file failed. */
export function endFileLogs(failed: boolean): void {
  const held = state();
  if (failed) printAll(held.outside);
  held.outside = [];
}

function printAll(lines: HeldLine[]): void {
  for (const line of lines) line.print(...line.args);
}

/** Every line the running test has written so far (outside a test: the lines written outside tests). */
export function testLines(): CapturedLine[] {
  const held = state();
  return (held.inTest ? held.test : held.outside).map(({ method, text }) => ({ method, text }));
}

/** The JSON-object lines of the running test, parsed (for asserting on events). */
export function testEvents(): Array<Record<string, unknown>> {
  return eventsIn(testLines());
}

/** The console output of a test since {@link captureLogs}. */
export interface LogCapture {
  /** Every line written so far, in order, whatever the method. */
  lines(): CapturedLine[];
  /** The lines that parse as JSON objects (for asserting on events). */
  events(): Array<Record<string, unknown>>;
  /** Stops this view: lines written later are not part of it (they stay captured for the test). */
  restore(): void;
}

/**
 * A view of the running test's console lines written from now on (`log`,
 * `info`, `warn`, `error`, `debug`, `trace`); none is printed unless the test
 * fails. Errors read with their stack and cause, as the runtime would print them.
 */
export function captureLogs(): LogCapture {
  installLogCapture();
  const held = state();
  const since = held.seq;
  let until = Number.POSITIVE_INFINITY;
  const lines = (): CapturedLine[] =>
    (held.inTest ? held.test : held.outside)
      .filter(({ seq }) => seq >= since && seq < until)
      .map(({ method, text }) => ({ method, text }));
  return {
    lines,
    events: () => eventsIn(lines()),
    restore: () => {
      until = Math.min(until, held.seq);
    },
  };
}

/** The lines that parse as JSON objects. */
function eventsIn(lines: CapturedLine[]): Array<Record<string, unknown>> {
  return lines.flatMap(({ text }) => {
    try {
      const value = JSON.parse(text) as unknown;
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? [value as Record<string, unknown>]
        : [];
    } catch {
      return [];
    }
  });
}

/** How a console argument reads in the log: strings as they are, errors with stack and cause. */
function printed(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  if (arg instanceof Error)
    return [
      arg.stack ?? `${arg.name}: ${arg.message}`,
      arg.message,
      arg.cause === undefined ? '' : printed(arg.cause),
    ].join('\n');
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
export function expectEveryLineFollowsLogRule(
  lines: ReadonlyArray<CapturedLine | string>,
  secrets: readonly string[] = [],
): void {
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
    expect(typeof entry === 'object' && entry !== null && !Array.isArray(entry), `${label}\nis not a JSON object`).toBe(
      true,
    );
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
