/**
 * Child processes for the Node tests and the benchmarks: free loopback ports,
 * `wrangler dev` / `npm run dev` started as their own process group (so that
 * exactly what was started can be stopped, workerd included), waiting for them
 * to answer, and stopping them.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root. */
export const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Environment for `wrangler dev` that keeps it offline and quiet (no metrics, no `cf` fetch, no colours). */
export const WRANGLER_ENV: NodeJS.ProcessEnv = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  NO_COLOR: '1',
};

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Distinct free loopback ports, held open together so they differ. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index++) {
      const server = createServer();
      await new Promise<void>((resolvePromise, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolvePromise());
      });
      servers.push(server);
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolvePromise) => server.close(resolvePromise))));
  }
}

/** A process started as the leader of its own process group, with what it printed so far. */
export interface ProcessGroup {
  child: ChildProcess;
  /** stdout and stderr together (empty when not piped). */
  output: () => string;
  /** Settles when the leader has exited. */
  exited: Promise<void>;
  /** Whether the leader is still running. */
  running: () => boolean;
}

/** Starts `command args` detached (its own process group), collecting stdout and stderr unless `stdio` says otherwise. */
export function startProcessGroup(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; stdio?: StdioOptions },
): ProcessGroup {
  let output = '';
  let running = true;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => ((running = false), resolvePromise())));
  return { child, output: () => output, exited, running: () => running };
}

/** Starts the project's `wrangler dev` with `args` (after `dev`), offline and quiet, as its own process group. */
export function startWranglerDev(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {},
): ProcessGroup {
  const wranglerBin = realpathSync(join(PROJECT_DIR, 'node_modules', '.bin', 'wrangler'));
  return startProcessGroup(process.execPath, [wranglerBin, 'dev', ...args], {
    cwd: options.cwd ?? PROJECT_DIR,
    env: { ...process.env, ...WRANGLER_ENV, ...options.env },
    stdio: options.stdio,
  });
}

/**
 * Polls `url` until it answers 200; fails early, with what `group` printed, if
 * it exits (wrangler may still be building when its port opens, hence a request
 * rather than a connect).
 */
export async function waitForOk(url: string | URL, timeoutMs: number, group?: ProcessGroup): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (group && !group.running()) throw new Error(`the process exited before ${url} answered:\n${group.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (response.status === 200) return;
      last = `status ${response.status}`;
    } catch (error) {
      last = String(error); // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})${group ? `:\n${group.output()}` : ''}`);
}

/** Waits for `pattern` in what `group` printed; fails early (with the output) if it exits. */
export async function waitForOutput(
  group: ProcessGroup,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = group.output().match(pattern);
    if (match) return match;
    if (!group.running()) throw new Error(`the process exited before printing ${pattern}:\n${group.output()}`);
    await sleep(200);
  }
  throw new Error(`the process did not print ${pattern} within ${timeoutMs} ms:\n${group.output()}`);
}

/**
 * Stops the process group `group` leads (and nothing else): SIGTERM to it,
 * then, after `graceMs`, SIGKILL to whatever of the group is left.
 */
export async function stopProcessGroup(group: ProcessGroup, graceMs = 15_000): Promise<void> {
  const pid = group.child.pid;
  if (pid === undefined) return;
  const signalGroup = (signal: NodeJS.Signals | 0): boolean => {
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // ESRCH: nothing of the group is left
    }
  };
  if (!signalGroup('SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (signalGroup(0) && Date.now() < deadline) await sleep(200);
  signalGroup('SIGKILL');
  await group.exited;
}

/** Where one `wrangler dev` of {@link startWranglerOn} listens, what it reads and what it keeps. */
export interface WranglerDevOptions {
  /** The wrangler.toml to run. */
  config: string;
  /** The loopback port it serves on. */
  port: number;
  /** Its inspector port (parallel `wrangler dev`s must not share the default one). */
  inspectorPort: number;
  /** The directory its local KV, Cache and Durable Object state live in. */
  persistTo: string;
  /** A `.dev.vars`-style file of secrets, when it needs one. */
  envFile?: string;
  /** Values passed as `--var NAME:value`. */
  vars?: Record<string, string>;
  /** Further flags, after the ones above. */
  extraArgs?: readonly string[];
  /** Working directory (the project's by default). */
  cwd?: string;
}

/** A `wrangler dev` process group and the loopback URL it serves. */
export interface WranglerDev extends ProcessGroup {
  url: string;
}

/** Starts `wrangler dev` on 127.0.0.1 with the flags every Node test and benchmark passes it (see {@link WranglerDevOptions}). */
export function startWranglerOn(options: WranglerDevOptions): WranglerDev {
  const args = [
    '--config',
    options.config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--inspector-port',
    String(options.inspectorPort),
    '--persist-to',
    options.persistTo,
    ...(options.envFile ? ['--env-file', options.envFile] : []),
    ...Object.entries(options.vars ?? {}).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ...(options.extraArgs ?? []),
  ];
  return { ...startWranglerDev(args, { cwd: options.cwd }), url: `http://127.0.0.1:${options.port}` };
}
