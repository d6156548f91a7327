/**
 * The peers, side by side with kenni-edge in `npm run bench`: each peer is a
 * small worker of its own (`bench/peers/*.worker.ts`) under `wrangler dev`,
 * against the same local provider, with the same tokens and the same minimal
 * origin. Each peer's ratio is taken against the no-auth `/public/` route of
 * its own worker in the same round, so the table compares like with like.
 *
 *   BENCH_PEERS=0 skips them; BENCH_PEER_ROUNDS (default 3) sets their rounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_API_AUDIENCE, DEV_CLIENTS, DEV_USERS } from '../dev/provider.ts';
import {
  freePorts,
  PROJECT_DIR,
  startWranglerOn,
  stopProcessGroup,
  waitForOk,
  type ProcessGroup,
} from '../dev/processes.ts';
import { CookieJar, signInAtProvider } from '../test/support/provider-login.ts';
import { median, runFor, send, type RunResult, type Scenario } from './load.ts';
import type { BenchStack } from './stack.ts';

const HOST = '127.0.0.1';
const BASELINE = 'baseline (public)';

/** One measured peer scenario and the kenni-edge scenario it stands beside. */
interface PeerScenario extends Scenario {
  /** The kenni-edge scenario (a name in `throughput.ts`) it compares with. */
  comparesTo: string;
}

/** A peer worker: its entry under `bench/peers/` and what it is measured on. */
interface PeerWorker {
  main: string;
  scenarios(credentials: { token: string; cookie: string }): PeerScenario[];
}

const PEERS: Record<string, PeerWorker> = {
  'hono-jwk': {
    main: 'bench/peers/hono-jwk.worker.ts',
    scenarios: ({ token }) => [
      {
        name: 'hono/jwk, jwks_uri (as documented)',
        comparesTo: 'bearer API',
        path: '/api/ping',
        headers: { authorization: `Bearer ${token}` },
        expectStatus: 200,
      },
      {
        name: 'hono/jwk, keys kept in the isolate',
        comparesTo: 'bearer API',
        path: '/api-cached-keys/ping',
        headers: { authorization: `Bearer ${token}` },
        expectStatus: 200,
      },
    ],
  },
  jose: {
    main: 'bench/peers/jose.worker.ts',
    scenarios: ({ token }) => [
      {
        name: 'jose createRemoteJWKSet + jwtVerify',
        comparesTo: 'bearer API',
        path: '/api/ping',
        headers: { authorization: `Bearer ${token}` },
        expectStatus: 200,
      },
    ],
  },
  'oidc-auth': {
    main: 'bench/peers/oidc-auth.worker.ts',
    scenarios: ({ cookie }) => [
      {
        name: '@hono/oidc-auth',
        comparesTo: 'session page',
        path: '/app/ping',
        headers: { cookie },
        expectStatus: 200,
      },
    ],
  },
};

/** Ports chosen before the provider starts, so the `@hono/oidc-auth` callback can be registered there. */
export interface ReservedPeers {
  ports: Record<string, number>;
  /** Inspector ports, one per peer (parallel `wrangler dev`s must not share the default). */
  inspectorPorts: Record<string, number>;
  /** Redirect URIs the provider must accept. */
  redirectUris: string[];
}

/** Picks the peers' ports, or `undefined` when `BENCH_PEERS=0`. */
export async function reservePeers(): Promise<ReservedPeers | undefined> {
  if (process.env.BENCH_PEERS === '0') return undefined;
  const names = Object.keys(PEERS);
  const ports = await freePorts(names.length * 2);
  const byName = Object.fromEntries(names.map((name, index) => [name, ports[index]!]));
  const inspectorPorts = Object.fromEntries(names.map((name, index) => [name, ports[names.length + index]!]));
  return { ports: byName, inspectorPorts, redirectUris: [`http://${HOST}:${byName['oidc-auth']}/callback`] };
}

/** kenni-edge's own results from the main rounds, to stand in the peer table. */
export interface OwnResults {
  results: Map<string, RunResult[]>;
  ratios: Map<string, number[]>;
  providerRequests: number;
}

/** Options for {@link benchPeers}. */
export interface PeerBenchOptions {
  /** The client-credentials token kenni-edge was measured with. */
  token: string;
  seconds: number;
  concurrency: number;
  ours: OwnResults;
}

/** Starts the peer workers, measures them in rounds and prints the table; the workers are stopped before it returns. */
export async function benchPeers(stack: BenchStack, reserved: ReservedPeers, options: PeerBenchOptions): Promise<void> {
  const rounds = Number(process.env.BENCH_PEER_ROUNDS ?? 3);
  const discovery = (await (await fetch(`${stack.provider.issuer}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
  };
  const dir = mkdtempSync(join(tmpdir(), 'kenni-edge-peers-'));
  const running: ProcessGroup[] = [];
  try {
    const urls: Record<string, string> = {};
    await Promise.all(
      Object.entries(PEERS).map(async ([name, peer]) => {
        const port = reserved.ports[name]!;
        const vars = {
          ORIGIN_URL: stack.origin.url,
          KENNI_ISSUER: stack.provider.issuer,
          JWKS_URI: discovery.jwks_uri,
          API_AUDIENCE: DEV_API_AUDIENCE,
          API_SCOPE: '@dev-team.is/api.read',
          OIDC_ISSUER: stack.provider.issuer,
          OIDC_CLIENT_ID: DEV_CLIENTS.web.client_id,
          OIDC_CLIENT_SECRET: DEV_CLIENTS.web.client_secret,
          OIDC_AUTH_SECRET: crypto.randomUUID() + crypto.randomUUID(),
          OIDC_REDIRECT_URI: '/callback',
          OIDC_SCOPES: 'openid',
        };
        const config = join(dir, `${name}.toml`);
        writeFileSync(
          config,
          `name = "kenni-edge-peer-${name}"\nmain = ${JSON.stringify(join(PROJECT_DIR, peer.main))}\ncompatibility_date = "2026-11-01"\n\n[vars]\n${Object.entries(
            vars,
          )
            .map(([key, value]) => `${key} = ${JSON.stringify(value)}`)
            .join('\n')}\n`,
        );
        const group = startWranglerOn({
          config,
          port,
          inspectorPort: reserved.inspectorPorts[name]!,
          persistTo: join(dir, `${name}-state`),
          extraArgs: ['--log-level', 'error', '--show-interactive-dev-session=false'],
          cwd: dir,
        });
        running.push(group);
        urls[name] = group.url;
        await waitForOk(`${urls[name]}/public/warmup`, 90_000, group);
      }),
    );

    const credentials = { token: options.token, cookie: await signInThroughOidcAuth(urls['oidc-auth']!) };
    const workers = Object.entries(PEERS).map(([name, peer]) => ({
      url: urls[name]!,
      scenarios: [{ name: BASELINE, path: '/public/ping', expectStatus: 200 }, ...peer.scenarios(credentials)],
    }));
    for (const worker of workers) await warm(worker.url, worker.scenarios);

    const results = new Map<string, RunResult[]>();
    const ratios = new Map<string, number[]>();
    const providerRequests = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      for (const worker of workers) {
        const order = worker.scenarios.map((_, index) => worker.scenarios[(index + round) % worker.scenarios.length]!);
        const roundResults = new Map<string, RunResult>();
        for (const scenario of order) {
          const before = stack.provider.requestCount();
          roundResults.set(scenario.name, await runFor(worker.url, scenario, options));
          const key = scenario.name;
          providerRequests.set(key, (providerRequests.get(key) ?? 0) + stack.provider.requestCount() - before);
        }
        const baseline = roundResults.get(BASELINE)!;
        for (const [name, result] of roundResults) {
          if (name === BASELINE) continue;
          results.set(name, [...(results.get(name) ?? []), result]);
          ratios.set(name, [...(ratios.get(name) ?? []), result.perSecond / baseline.perSecond]);
          results.set(`${name}\u0000baseline`, [...(results.get(`${name}\u0000baseline`) ?? []), baseline]);
        }
      }
    }

    printTable(
      workers.flatMap((worker) => worker.scenarios.filter((s): s is PeerScenario => 'comparesTo' in s)),
      { results, ratios, providerRequests },
      options,
      rounds,
    );
  } finally {
    await Promise.all(running.map((group) => stopProcessGroup(group)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Signs in through the `@hono/oidc-auth` peer (its redirect, the provider's pages, its callback) and returns its cookie. */
async function signInThroughOidcAuth(base: string): Promise<string> {
  const jar = new CookieJar();
  const start = await fetch(`${base}/app/ping`, { redirect: 'manual' });
  jar.store(start);
  if (start.status !== 302) throw new Error(`@hono/oidc-auth: expected a redirect, got ${start.status}`);
  const { callbackUrl } = await signInAtProvider(start.headers.get('location')!, { login: DEV_USERS[0]!.national_id });
  const callback = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(callback);
  const session = jar.get('oidc-auth');
  if (callback.status !== 302 || !session)
    throw new Error(`@hono/oidc-auth: sign-in failed: ${callback.status} ${await callback.text()}`);
  return `oidc-auth=${session}`;
}

async function warm(base: string, scenarios: Scenario[]): Promise<void> {
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true });
  try {
    for (const scenario of scenarios) {
      for (let i = 0; i < 50; i++) {
        const status = await send(base, scenario, agent);
        if (status !== scenario.expectStatus)
          throw new Error(`${scenario.name}: expected ${scenario.expectStatus}, got ${status}`);
      }
    }
  } finally {
    agent.destroy();
  }
}

function printTable(
  scenarios: PeerScenario[],
  peers: { results: Map<string, RunResult[]>; ratios: Map<string, number[]>; providerRequests: Map<string, number> },
  options: PeerBenchOptions,
  rounds: number,
): void {
  const { ours } = options;
  console.log(
    `\nPeers: each against the no-auth /public/ route of its own worker; same provider, token, origin and load (${rounds} rounds × ${options.seconds} s per scenario; kenni-edge from the rounds above)\n`,
  );
  console.log(
    'scenario        worker                                 req/s   baseline req/s   ratio   provider requests   errors',
  );
  const row = (
    group: string,
    name: string,
    runs: RunResult[],
    baselines: RunResult[],
    ratio: number,
    provider: string,
  ) =>
    console.log(
      `${group.padEnd(16)}${name.padEnd(37)}${median(runs.map((run) => run.perSecond))
        .toFixed(0)
        .padStart(7)}${median(baselines.map((run) => run.perSecond))
        .toFixed(0)
        .padStart(17)}${ratio.toFixed(3).padStart(8)}${provider.padStart(20)}${String(
        runs.reduce((sum, run) => sum + run.errors, 0),
      ).padStart(9)}`,
    );
  for (const group of [...new Set(scenarios.map((scenario) => scenario.comparesTo))]) {
    const own = ours.results.get(group);
    if (own)
      row(
        group,
        'kenni-edge',
        own,
        ours.results.get(BASELINE)!,
        median(ours.ratios.get(group)!),
        `${ours.providerRequests} (all)`,
      );
    for (const scenario of scenarios.filter((candidate) => candidate.comparesTo === group))
      row(
        '',
        scenario.name,
        peers.results.get(scenario.name)!,
        peers.results.get(`${scenario.name}\u0000baseline`)!,
        median(peers.ratios.get(scenario.name)!),
        String(peers.providerRequests.get(scenario.name) ?? 0),
      );
  }
}
