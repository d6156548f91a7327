/**
 * The access-rules scenario of `npm run bench` (issue 11): a session page
 * request matching a route deep in a 50-route `ROUTES` table (two conditions
 * per route), against the same request with no `ROUTES`, in the same worker
 * process (bench/access-rules.worker.ts picks the configuration per request),
 * alternating in short slices within each round; the ratio of each round is
 * taken, then the median.
 * Target: at least 0.97×.
 *
 *   node bench/access-rules.ts   (alone; BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONCURRENCY to tune)
 */
import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { DEV_USERS } from '../dev/provider.ts';
import { median, runFor, send, type RunResult, type Scenario } from './load.ts';
import { signInThroughEdge } from './sign-in.ts';
import { startBenchStack } from './stack.ts';

/** How long and how hard to measure. */
export interface AccessRulesBenchOptions {
  seconds: number;
  rounds: number;
  concurrency: number;
}

const ROUTE_COUNT = 50;
const TARGET = 0.97;
/** Slices per round, alternating the two sides. */
const SLICES = 8;
const THORDUR = DEV_USERS.find((user) => user.sub === 'dev-user-thordur')!.national_id;
const GUDRUN = DEV_USERS.find((user) => user.sub === 'dev-user-gudrun')!.national_id;

/**
 * `/area-1` … `/area-50`, each with two conditions (an `allow` list of one
 * kennitala and `require` `min_age` 18). Only the last admits Þórður, and
 * the matcher tries all 50 one-segment prefixes in table order, so a request
 * to `/area-50/…` is matched last.
 */
export function fiftyRoutes(): unknown[] {
  return Array.from({ length: ROUTE_COUNT }, (_, index) => ({
    path: `/area-${index + 1}`,
    allow: [{ national_id: [index + 1 === ROUTE_COUNT ? THORDUR : `31129${String(index).padStart(2, '0')}999`] }],
    require: [{ min_age: 18 }],
  }));
}

/** Runs the scenario on its own stack, prints its table, and resolves to true when the target is missed. */
export async function benchAccessRules(options: AccessRulesBenchOptions): Promise<boolean> {
  const stack = await startBenchStack({
    main: 'bench/access-rules.worker.ts',
    vars: { ROUTES: JSON.stringify(fiftyRoutes()) },
  });
  try {
    const cookie = await signInThroughEdge(stack.edge);
    const page = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', cookie };
    const deep = `/area-${ROUTE_COUNT}/ping`;
    const scenarios: Scenario[] = [
      {
        name: 'session page, no ROUTES',
        path: deep,
        headers: { ...page, 'x-bench-config': 'plain' },
        expectStatus: 200,
      },
      {
        name: `session page, ${ROUTE_COUNT} ROUTES × 2`,
        path: deep,
        headers: { ...page, 'x-bench-config': 'rules' },
        expectStatus: 200,
      },
    ];
    await checkRulesApply(stack.edge, page, deep);

    const warmAgent = new Agent({ keepAlive: true });
    for (const scenario of scenarios) for (let i = 0; i < 50; i++) await expectStatus(stack.edge, scenario, warmAgent);
    warmAgent.destroy();

    const providerBefore = stack.provider.requestCount();
    const results = new Map<string, RunResult[]>();
    const ratios: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const [plain, rules] = scenarios.map(() => ({ requests: 0, errors: 0, seconds: 0 }));
      // Short slices in the order ABBA ABBA …: both sides see the same (busy) machine within each round.
      for (let slice = 0; slice < SLICES; slice++) {
        const order = slice % 4 === 0 || slice % 4 === 3 ? [0, 1] : [1, 0];
        for (const index of order) {
          const run = await runFor(stack.edge, scenarios[index]!, { ...options, seconds: options.seconds / SLICES });
          const sum = index === 0 ? plain! : rules!;
          sum.requests += run.requests;
          sum.errors += run.errors;
          sum.seconds += run.seconds;
        }
      }
      for (const [index, sum] of [plain!, rules!].entries()) {
        const name = scenarios[index]!.name;
        results.set(name, [...(results.get(name) ?? []), { name, ...sum, perSecond: sum.requests / sum.seconds }]);
      }
      ratios.push(rules!.requests / rules!.seconds / (plain!.requests / plain!.seconds));
    }
    const providerRequests = stack.provider.requestCount() - providerBefore;

    console.log(
      `\naccess rules: ${ROUTE_COUNT}-route ROUTES table, 2 conditions per route, the request matching the last route; ` +
        `${options.rounds} rounds × ${options.seconds} s, concurrency ${options.concurrency}, one wrangler dev worker\n`,
    );
    console.log('scenario                          req/s (median)   ratio to baseline (median)   budget   errors');
    const ratio = median(ratios);
    const missed = ratio < TARGET;
    for (const [index, scenario] of scenarios.entries()) {
      const runs = results.get(scenario.name)!;
      const shown = index === 0 ? 1 : ratio;
      const verdict = index === 0 ? '' : missed ? `≥ ${TARGET} MISSED` : `≥ ${TARGET} ok`;
      const errors = runs.reduce((sum, run) => sum + run.errors, 0);
      console.log(
        `${scenario.name.padEnd(34)}${median(runs.map((run) => run.perSecond))
          .toFixed(0)
          .padStart(10)}   ${shown.toFixed(3).padStart(22)}   ${verdict.padEnd(12)} ${errors}`,
      );
    }
    console.log(`\nprovider requests during the measured steady state: ${providerRequests} (budget: 0)`);
    return missed || providerRequests !== 0;
  } finally {
    await stack.stop();
  }
}

/**
 * Before measuring, the table must really be in force: Þórður passes the last
 * route, is refused on the one before it, and Guðrún is refused on the last
 * one; without `ROUTES` all three pass. Otherwise the figure would measure nothing.
 */
async function checkRulesApply(edge: string, page: Record<string, string>, deep: string): Promise<void> {
  const gudrun = { ...page, cookie: await signInThroughEdge(edge, GUDRUN) };
  const previous = `/area-${ROUTE_COUNT - 1}/ping`;
  const agent = new Agent({ keepAlive: true });
  const checks: Array<[string, Record<string, string>, string, number]> = [
    ['rules', page, deep, 200],
    ['rules', page, previous, 403],
    ['rules', gudrun, deep, 403],
    ['plain', page, previous, 200],
    ['plain', gudrun, deep, 200],
  ];
  for (const [config, headers, path, status] of checks) {
    const name = `${config} ${path} as ${headers === gudrun ? 'Guðrún' : 'Þórður'}`;
    await expectStatus(
      edge,
      { name, path, headers: { ...headers, 'x-bench-config': config }, expectStatus: status },
      agent,
    );
  }
  agent.destroy();
}

async function expectStatus(edge: string, scenario: Scenario, agent: Agent): Promise<void> {
  const status = await send(edge, scenario, agent);
  if (status !== scenario.expectStatus)
    throw new Error(`${scenario.name}: expected ${scenario.expectStatus}, got ${status}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const missed = await benchAccessRules({
    seconds: Number(process.env.BENCH_SECONDS ?? 4),
    rounds: Number(process.env.BENCH_ROUNDS ?? 7),
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
  });
  process.exitCode = missed ? 1 : 0;
}
