/**
 * `npm run dev`: the whole stack on this machine, offline, with no account
 * and no configuration. Writes `.dev.vars` if missing, starts the Kenni-like
 * provider (127.0.0.1:9400) and the demo origin (127.0.0.1:9401) in this
 * process, then `wrangler dev` on 127.0.0.1:8787. Ctrl-C stops everything;
 * so does wrangler exiting.
 *
 * The ports and the issuer match `[vars]` in wrangler.toml. To run a second
 * stack beside it (e.g. the browser test), set `PROVIDER_PORT`, `ORIGIN_PORT`
 * and `EDGE_PORT`: the worker is then told the matching `KENNI_ISSUER` and
 * `ORIGIN_URL` with `--var`, and the provider registers that edge's redirect
 * URIs. `DEV_VARS_PATH` puts the local secrets file elsewhere, under any
 * name: wrangler reads it with `--env-file` instead of `<project>/.dev.vars`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DEMO_AREAS } from './demo-areas.ts';
import { DEMO_ORIGIN_PORT, startDemoOrigin } from './demo-origin.ts';
import type { DemoOrigin } from './demo-origin.ts';
import { DEV_VARS_FILE, ensureDevVars } from './dev-vars.ts';
import { DEV_PROVIDER_PORT, DEV_USERS, describeDelegations, startKenniProvider } from './provider.ts';
import type { KenniProvider } from './provider.ts';

const HOST = '127.0.0.1';
const DEFAULT_EDGE_PORT = 8787;
const PROVIDER_PORT = portFromEnv('PROVIDER_PORT', DEV_PROVIDER_PORT);
const ORIGIN_PORT = portFromEnv('ORIGIN_PORT', DEMO_ORIGIN_PORT);
const EDGE_PORT = portFromEnv('EDGE_PORT', DEFAULT_EDGE_PORT);
const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * Another secrets file than `<project>/.dev.vars`, under any name. wrangler
 * reads `.dev.vars` only next to wrangler.toml, so this one is passed with
 * `--env-file` (which then also keeps `<project>/.dev.vars` out).
 */
const DEV_VARS_PATH = process.env.DEV_VARS_PATH ? resolve(process.env.DEV_VARS_PATH) : undefined;

async function main(): Promise<void> {
  if (DEV_VARS_PATH && statSync(DEV_VARS_PATH, { throwIfNoEntry: false })?.isDirectory()) {
    console.error(`DEV_VARS_PATH must name a file, not a directory (got ${DEV_VARS_PATH}).`);
    process.exit(1);
  }
  const devVars = await ensureDevVars(DEV_VARS_PATH ?? join(PROJECT_DIR, DEV_VARS_FILE));
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

  // The default edge port's URIs are registered already (DEV_REDIRECT_URIS).
  const edgeOrigins =
    EDGE_PORT === DEFAULT_EDGE_PORT ? [] : [`http://localhost:${EDGE_PORT}`, `http://${HOST}:${EDGE_PORT}`];
  try {
    provider = await startKenniProvider({
      host: HOST,
      port: PROVIDER_PORT,
      extraRedirectUris: edgeOrigins.map((edgeOrigin) => `${edgeOrigin}/auth/callback`),
      extraPostLogoutRedirectUris: edgeOrigins.map((edgeOrigin) => `${edgeOrigin}/`),
    });
    // The assertion's iss is the origin the browser used for the edge; its aud is ORIGIN_URL's origin (the demo origin's own).
    origin = await startDemoOrigin({
      host: HOST,
      port: ORIGIN_PORT,
      edgeJwksUrl: `http://${HOST}:${EDGE_PORT}/auth/jwks.json`,
      edgeIssuer: [`http://localhost:${EDGE_PORT}`, `http://${HOST}:${EDGE_PORT}`],
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
  const wranglerArgs = [wranglerBin, 'dev', '--port', String(EDGE_PORT), '--ip', HOST];
  // wrangler.toml [vars] name the default ports; other ports need the worker told.
  if (PROVIDER_PORT !== DEV_PROVIDER_PORT) wranglerArgs.push('--var', `KENNI_ISSUER:${provider.issuer}`);
  if (ORIGIN_PORT !== DEMO_ORIGIN_PORT) wranglerArgs.push('--var', `ORIGIN_URL:${origin.url}`);
  if (DEV_VARS_PATH) wranglerArgs.push('--env-file', devVars.path);
  wrangler = spawn(process.execPath, wranglerArgs, {
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
  const delegations = describeDelegations().map((line) => `    ${line}`);
  console.log(
    [
      '',
      '──────────────────────────────────────────────────────────────',
      `  Open http://localhost:${EDGE_PORT}/ and sign in as one of:`,
      ...users,
      '  (the provider asks for no password; pick a user, then Samþykkja / Allow)',
      '  With prompt=delegation (/auth/login?prompt=delegation), acting for:',
      ...delegations,
      '',
      `  Public page:  http://localhost:${EDGE_PORT}/public/hello`,
      ...DEMO_AREAS.map(
        (area) => `  ${`${area.path}:`.padEnd(14)}http://localhost:${EDGE_PORT}${area.path}  (${area.who})`,
      ),
      `  Session:      http://localhost:${EDGE_PORT}/auth/me`,
      `  Sign out:     http://localhost:${EDGE_PORT}/auth/logout`,
      '  Stop:         Ctrl-C',
      '──────────────────────────────────────────────────────────────',
      '',
    ].join('\n'),
  );
}

/** A port from the environment (0 is refused: the printed URLs must be known before listening), else the default. */
function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a port number from 1 to 65535 (got ${JSON.stringify(raw)}).`);
    process.exit(1);
  }
  return port;
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
