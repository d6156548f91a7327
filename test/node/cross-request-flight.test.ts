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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePorts,
  PROJECT_DIR,
  startWranglerOn,
  stopProcessGroup,
  waitForOk,
  type WranglerDev,
} from '../../dev/processes.ts';

/** The slow provider answers after this long; the guarded waiter gives up on A's call after 2 s (the fixture's waitMs). */
const ANSWER_DELAY_MS = 1500;

let slow: Server;
let wrangler: WranglerDev | undefined;
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
  const [port, inspectorPort] = await freePorts(2);
  wrangler = startWranglerOn({
    config: join(dir, 'wrangler.toml'),
    port: port!,
    inspectorPort: inspectorPort!,
    persistTo: join(dir, 'state'),
    vars: { SLOW_URL: slowUrl },
    extraArgs: ['--show-interactive-dev-session=false'],
    cwd: dir,
  });
  base = wrangler.url;
  await waitForOk(`${base}/`, 60_000, wrangler);
});

afterAll(async () => {
  if (wrangler) await stopProcessGroup(wrangler);
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
