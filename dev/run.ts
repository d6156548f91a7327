/**
 * `npm run dev`: the whole stack on this machine, offline, with no account
 * and no configuration. Writes `.dev.vars` if missing, starts the Kenni-like
 * provider (127.0.0.1:9400) and the demo origin (127.0.0.1:9401) in this
 * process, then `wrangler dev` on 127.0.0.1:8787. Ctrl-C stops everything;
 * so does wrangler exiting.
 *
 * The ports and the issuer match `[vars]` in wrangler.toml.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DEMO_ORIGIN_PORT, startDemoOrigin } from './demo-origin.ts';
import type { DemoOrigin } from './demo-origin.ts';
import { ensureDevVars } from './dev-vars.ts';
import { DEV_PROVIDER_PORT, DEV_USERS, startKenniProvider } from './provider.ts';
import type { KenniProvider } from './provider.ts';

const HOST = '127.0.0.1';
const EDGE_PORT = 8787;
const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const devVars = await ensureDevVars(PROJECT_DIR);
  const devVarsPath = relative(process.cwd(), devVars.path) || devVars.path;
  if (devVars.created) {
    console.log(`Wrote ${devVarsPath} with local secrets (new SESSION_SECRET and EDGE_SIGNING_KEY).`);
  } else if (devVars.missing.length) {
    console.warn(
      `${devVarsPath} exists but lacks ${devVars.missing.join(', ')}; left unchanged. ` +
        `Delete it to have a complete one written.`,
    );
  }

  let provider: KenniProvider | undefined;
  let origin: DemoOrigin | undefined;
  let wrangler: ChildProcess | undefined;
  let stopping = false;

  const stop = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    if (wrangler && wrangler.exitCode === null && wrangler.signalCode === null) {
      await stopChild(wrangler);
    }
    await Promise.allSettled([provider?.close(), origin?.close()]);
    process.exit(exitCode);
  };
  // A requested stop is a clean exit (npm would otherwise report a failed script).
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    provider = await startKenniProvider({ host: HOST, port: DEV_PROVIDER_PORT });
    origin = await startDemoOrigin({
      host: HOST,
      port: DEMO_ORIGIN_PORT,
      edgeJwksUrl: `http://${HOST}:${EDGE_PORT}/auth/jwks.json`,
    });
  } catch (error) {
    console.error(`Could not start the local provider or demo origin: ${describeListenError(error)}`);
    await stop(1);
    return;
  }
  console.log(`Kenni-like provider: issuer ${provider.issuer}`);
  console.log(`Demo origin:         ${origin.url}`);

  // The same Node that runs this script (Node 22 from devDependencies), not whatever is on PATH.
  const wranglerBin = realpathSync(join(PROJECT_DIR, 'node_modules', '.bin', 'wrangler'));
  wrangler = spawn(process.execPath, [wranglerBin, 'dev', '--port', String(EDGE_PORT), '--ip', HOST], {
    cwd: PROJECT_DIR,
    stdio: 'inherit',
    // Offline by default: otherwise miniflare fetches a real `request.cf` from
    // workers.cloudflare.com and logs a stack trace each start when offline.
    env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env },
  });
  wrangler.on('error', (error) => {
    console.error(`Could not start wrangler: ${error.message}`);
    void stop(1);
  });
  wrangler.on('exit', (code, signal) => {
    if (!stopping) console.log(`wrangler exited (${signal ?? code}); stopping the provider and demo origin.`);
    void stop(code ?? (signal ? 1 : 0));
  });

  if (await waitForPort(HOST, EDGE_PORT, 120_000, () => stopping)) printBanner();
}

function printBanner(): void {
  const users = DEV_USERS.map((user) => `    ${user.name}  (kennitala ${user.national_id})`);
  console.log(
    [
      '',
      '──────────────────────────────────────────────────────────────',
      `  Open http://localhost:${EDGE_PORT}/ and sign in as one of:`,
      ...users,
      '  (the provider asks for no password; pick a user, then Samþykkja / Allow)',
      '',
      `  Public page:  http://localhost:${EDGE_PORT}/public/hello`,
      `  Session:      http://localhost:${EDGE_PORT}/auth/me`,
      `  Sign out:     http://localhost:${EDGE_PORT}/auth/logout`,
      '  Stop:         Ctrl-C',
      '──────────────────────────────────────────────────────────────',
      '',
    ].join('\n'),
  );
}

/** Polls with plain TCP connects, so no request reaches the worker (and its logs) before a person does. */
async function waitForPort(host: string, port: number, timeoutMs: number, cancelled: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !cancelled()) {
    const open = await new Promise<boolean>((resolvePromise) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolvePromise(true);
      });
      socket.once('error', () => resolvePromise(false));
    });
    if (open) return true;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 500));
  }
  return false;
}

/** SIGTERM, then SIGKILL if wrangler (and its workerd) has not gone within five seconds. */
async function stopChild(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function describeListenError(error: unknown): string {
  const { code, port } = (error ?? {}) as { code?: string; port?: number };
  if (code === 'EADDRINUSE') {
    return `port ${port} is in use. Is another \`npm run dev\` running? Stop it, or free the port.`;
  }
  return error instanceof Error ? error.message : String(error);
}

await main();
