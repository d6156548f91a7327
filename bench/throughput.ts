/**
 * The performance budget (DESIGN.md), measured as throughput ratios against a
 * no-auth PUBLIC_PATHS request on the same running worker, side by side in
 * one run: scenarios alternate in rounds and each ratio uses the baseline of
 * its own round. Also checks that steady state makes no provider request.
 * Then, on a stack of its own, the access-rules scenario (access-rules.ts).
 *
 *   npm run bench            (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONCURRENCY to tune)
 *
 * Then the peers (bench/peers.ts) on the same stack and token.
 */
import { Agent } from 'node:http';
import { benchAccessRules } from './access-rules.ts';
import { median, runFor, send, type RunResult, type Scenario } from './load.ts';
import { startBenchStack } from './stack.ts';
import { clientCredentialsToken, signInThroughEdge } from './sign-in.ts';
import { benchPeers, reservePeers } from './peers.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);

const BUDGET: Record<string, number> = {
  'bearer API': 0.95,
  'session page': 0.9,
  'session API (token forwarded)': 0.85,
};

const peers = await reservePeers();
const stack = await startBenchStack({ extraRedirectUris: peers?.redirectUris, accessTokenTtl: 3600 });
try {
  const cookie = await signInThroughEdge(stack.edge);
  const token = await clientCredentialsToken(stack.provider.issuer, '@dev-team.is/api.read');
  const scenarios: Scenario[] = [
    { name: 'baseline (public)', path: '/public/ping', expectStatus: 200 },
    { name: 'bearer API', path: '/api/ping', headers: { authorization: `Bearer ${token}` }, expectStatus: 200 },
    {
      name: 'session page',
      path: '/app/ping',
      headers: { cookie, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
      expectStatus: 200,
    },
    { name: 'session API (token forwarded)', path: '/api/ping', headers: { cookie }, expectStatus: 200 },
    { name: '/auth/verify', path: '/auth/verify', headers: { authorization: `Bearer ${token}` }, expectStatus: 200 },
  ];

  // Warm every path (JWKS, discovery, session cache, assertion) before counting provider requests.
  const warmAgent = new Agent({ keepAlive: true });
  for (const scenario of scenarios) {
    for (let i = 0; i < 50; i++) {
      const status = await send(stack.edge, scenario, warmAgent);
      if (status !== scenario.expectStatus)
        throw new Error(`${scenario.name}: expected ${scenario.expectStatus}, got ${status}`);
    }
  }
  warmAgent.destroy();

  const providerBefore = stack.provider.requestCount();
  const results = new Map<string, RunResult[]>();
  const ratios = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    // Rotate the order every round so no scenario always runs first or last.
    const order = scenarios.map((_, index) => scenarios[(index + round) % scenarios.length]!);
    const roundResults = new Map<string, RunResult>();
    for (const scenario of order)
      roundResults.set(scenario.name, await runFor(stack.edge, scenario, { seconds, concurrency }));
    const baseline = roundResults.get(scenarios[0]!.name)!;
    for (const [name, result] of roundResults) {
      results.set(name, [...(results.get(name) ?? []), result]);
      ratios.set(name, [...(ratios.get(name) ?? []), result.perSecond / baseline.perSecond]);
    }
  }
  const providerRequests = stack.provider.requestCount() - providerBefore;

  console.log(
    `\nkenni-edge throughput, ${rounds} rounds × ${seconds} s per scenario, concurrency ${concurrency}, wrangler dev on 127.0.0.1\n`,
  );
  console.log('scenario                          req/s (median)   ratio to baseline (median)   budget   errors');
  let failed = false;
  for (const scenario of scenarios) {
    const runs = results.get(scenario.name)!;
    const ratio = median(ratios.get(scenario.name)!);
    const budget = BUDGET[scenario.name];
    const verdict = budget === undefined ? '' : ratio >= budget ? `≥ ${budget} ok` : `≥ ${budget} MISSED`;
    if (budget !== undefined && ratio < budget) failed = true;
    const errors = runs.reduce((sum, run) => sum + run.errors, 0);
    console.log(
      `${scenario.name.padEnd(34)}${median(runs.map((run) => run.perSecond))
        .toFixed(0)
        .padStart(10)}   ${ratio.toFixed(3).padStart(22)}   ${verdict.padEnd(12)} ${errors}`,
    );
  }
  console.log(`\nprovider requests during the measured steady state: ${providerRequests} (budget: 0)`);
  if (providerRequests !== 0) failed = true;
  if (peers)
    await benchPeers(stack, peers, { token, seconds, concurrency, ours: { results, ratios, providerRequests } });
  process.exitCode = failed ? 1 : 0;
} finally {
  await stack.stop();
}

// Its own stack and table: a 50-route ROUTES table against the same request with no ROUTES.
if (await benchAccessRules({ seconds, rounds, concurrency })) process.exitCode = 1;
