/**
 * Starts a complete, isolated stack for benchmarks: the local Kenni-like
 * provider, a minimal origin, and the worker under `wrangler dev` with its own
 * generated config and secrets in a temporary folder (a developer's
 * `.dev.vars` is never read or touched). The bundle is built as deployed
 * (`minify`, `keep_names = false`, as in wrangler.toml).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevVars, formatDotenv } from '../dev/dev-vars.ts';
import { freePorts, PROJECT_DIR, startWranglerDev, stopProcessGroup } from '../dev/processes.ts';
import { startKenniProvider, type KenniProvider } from '../dev/provider.ts';

const HOST = '127.0.0.1';

/** A running benchmark stack. */
export interface BenchStack {
  edge: string;
  provider: KenniProvider;
  origin: { url: string; requestCount(): number };
  stop(): Promise<void>;
}

/** Options for {@link startBenchStack}. */
export interface BenchStackOptions {
  /** Extra `[vars]` for the worker. */
  vars?: Record<string, string>;
  /** Access token lifetime at the provider, seconds. */
  accessTokenTtl?: number;
  /** Bind the SESSION_LOCKS Durable Object. */
  sessionLocks?: boolean;
  /** Worker entry, relative to the project (default src/worker/index.ts, as deployed). */
  main?: string;
  /** More redirect URIs to register at the provider (e.g. the peers' callbacks). */
  extraRedirectUris?: string[];
}

/** Starts provider, origin and worker; resolves once the worker accepts connections. */
export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const [edgePort] = (await freePorts(1)) as [number];
  const edge = `http://${HOST}:${edgePort}`;
  const provider = await startKenniProvider({
    port: 0,
    accessTokenTtl: options.accessTokenTtl ?? 300,
    extraRedirectUris: [`${edge}/auth/callback`, ...(options.extraRedirectUris ?? [])],
    extraPostLogoutRedirectUris: [`${edge}/`],
  });
  const origin = await startMinimalOrigin();
  const dir = mkdtempSync(join(tmpdir(), 'kenni-edge-bench-'));
  const secrets = await createDevVars();
  const vars: Record<string, string> = {
    KENNI_ISSUER: provider.issuer,
    KENNI_CLIENT_ID: '@dev-team.is/web',
    KENNI_API_SCOPE: '@dev-team.is/api.read',
    ORIGIN_URL: origin.url,
    PUBLIC_PATHS: '/public/',
    API_PATHS: '/api/',
    ...options.vars,
  };
  const locks = options.sessionLocks
    ? `\n[[durable_objects.bindings]]\nname = "SESSION_LOCKS"\nclass_name = "SessionLock"\n\n[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["SessionLock"]\n`
    : '';
  writeFileSync(
    join(dir, 'wrangler.toml'),
    `name = "kenni-edge-bench"\nmain = ${JSON.stringify(join(PROJECT_DIR, options.main ?? 'src/worker/index.ts'))}\ncompatibility_date = "2026-11-01"\nminify = true\nkeep_names = false\n\n[[kv_namespaces]]\nbinding = "SESSIONS"\nid = "00000000000000000000000000000000"\n${locks}\n[vars]\n${Object.entries(
      vars,
    )
      .map(([name, value]) => `${name} = ${JSON.stringify(value)}`)
      .join('\n')}\n`,
  );
  writeFileSync(join(dir, '.dev.vars'), formatDotenv(secrets));

  const wrangler = startWranglerDev(
    [
      '-c',
      join(dir, 'wrangler.toml'),
      '--port',
      String(edgePort),
      '--ip',
      HOST,
      '--persist-to',
      join(dir, 'state'),
      '--log-level',
      'error',
      '--show-interactive-dev-session=false',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(edgePort, 60_000);
  // The first request compiles the bundle; do it before anyone measures.
  await fetch(`${edge}/public/warmup`).then((response) => response.arrayBuffer());

  return {
    edge,
    provider,
    origin,
    async stop() {
      await stopProcessGroup(wrangler);
      await Promise.allSettled([provider.close(), origin.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The cheapest possible origin: a fixed small answer for every path. */
async function startMinimalOrigin(): Promise<{ url: string; requestCount(): number; close(): Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      response.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolveListen) => server.listen(0, HOST, resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${HOST}:${port}`,
    requestCount: () => requests,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolveProbe) => {
      const socket = connect(port, HOST, () => {
        socket.end();
        resolveProbe(true);
      });
      socket.on('error', () => resolveProbe(false));
    });
    if (open) return;
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  throw new Error(`wrangler dev did not open port ${port} within ${timeoutMs} ms`);
}
