/**
 * A shared call whose first request is gone (issue 9, item 5; jose#355): in
 * workerd, a promise started by request A and awaited by request B stays
 * pending for B once A has finished, even when the answer arrives (the fetch
 * and its continuations belonged to A). `singleFlight` guards against it: B
 * waits on A's call for a while, then does the work itself.
 *
 * Runs the fixture Worker (test/node/fixtures/shared-call-worker.ts) in
 * `wrangler dev`: the Workers Vitest pool runs every test in one request, so
 * the cross-request case needs real requests. Binds 127.0.0.1 on free ports and
 * stops its process group afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The slow provider answers after this long; the guarded waiter gives up on A's call after 2 s (the fixture's waitMs). */
const ANSWER_DELAY_MS = 1500;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolveClose) => server.close(resolveClose));
  return port;
}

let slow: Server;
let wrangler: ChildProcess;
let output = '';
let base = '';
let dir = '';

beforeAll(async () => {
  slow = createHttpServer((_request, response) => {
    setTimeout(() => response.end('late answer'), ANSWER_DELAY_MS);
  });
  await new Promise<void>((resolveListen) => slow.listen(0, '127.0.0.1', resolveListen));
  const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`;
  dir = mkdtempSync(join(tmpdir(), 'kenni-edge-flight-'));
  writeFileSync(
    join(dir, 'wrangler.toml'),
    `name = "shared-call-fixture"\nmain = ${JSON.stringify(join(PROJECT_DIR, 'test/node/fixtures/shared-call-worker.ts'))}\ncompatibility_date = "2026-11-01"\n`,
  );
  const [port, inspectorPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  const wranglerBin = realpathSync(join(PROJECT_DIR, 'node_modules', '.bin', 'wrangler'));
  wrangler = spawn(
    process.execPath,
    [
      wranglerBin,
      'dev',
      '-c',
      join(dir, 'wrangler.toml'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--var',
      `SLOW_URL:${slowUrl}`,
      '--persist-to',
      join(dir, 'state'),
      '--show-interactive-dev-session=false',
    ],
    {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    },
  );
  wrangler.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  wrangler.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (wrangler.exitCode !== null) throw new Error(`wrangler exited:\n${output}`);
    try {
      if ((await fetch(`${base}/`, { signal: AbortSignal.timeout(5000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`wrangler did not answer:\n${output}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
});

afterAll(async () => {
  if (wrangler?.pid !== undefined && wrangler.exitCode === null) {
    const exited = new Promise((resolveExit) => wrangler.once('exit', resolveExit));
    try {
      process.kill(-wrangler.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
  }
  slow?.closeAllConnections();
  await new Promise((resolveClose) => slow?.close(resolveClose));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Request A starts the shared call and finishes; request B then waits on it. Returns what B got. */
async function startThenJoin(kind: 'bare' | 'guarded'): Promise<string> {
  expect(await (await fetch(`${base}/${kind}/start`)).text()).toBe('started');
  return (await fetch(`${base}/${kind}/join`)).text();
}

describe('a shared call started by a request that has finished', () => {
  it('as a plain shared promise, never settles for the request waiting on it (the trap the guard is for)', async () => {
    // If this starts failing, workerd no longer strands such promises and the guard in singleFlight could be simpler.
    expect(await startThenJoin('bare')).toBe('pending');
  });

  it('through singleFlight, settles for the request waiting on it: it does the work itself', async () => {
    expect(await startThenJoin('guarded')).toBe('resolved: late answer');
  });
});
