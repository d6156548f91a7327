/**
 * CPU per request inside workerd, the `bench:verify` technique applied to
 * whole requests: `bench/request-cost.worker.ts` runs N requests through the
 * edge app (`app.fetch`) inside one request, and this script times that
 * request from outside against the same request with N = 0. The origin is
 * answered inside the isolate, so what is left is the edge's own work.
 *
 *   npm run bench:requests     (REQUEST_COST_N, default 1000; REQUEST_COST_COLD_N, default 200)
 */
import { DEV_USERS } from '../dev/provider.ts';
import { median } from './load.ts';
import { clientCredentialsToken, signInThroughEdge } from './sign-in.ts';
import { startBenchStack } from './stack.ts';

const N = Number(process.env.REQUEST_COST_N ?? 1000);
const COLD_N = Number(process.env.REQUEST_COST_COLD_N ?? 200);
const REPEATS = 7;
const SCOPE = '@dev-team.is/api.read';

/** 50 routes with two conditions each, parsed by the real configuration parser; the request goes to the last one. */
const ROUTES = Array.from({ length: 50 }, (_, index) => ({
  path: `/r/${index}/`,
  allow: [{ national_id: [String(1_000_000_000 + index * 7919), DEV_USERS[0]!.national_id] }],
  require: [{ min_age: 18 }],
}));

interface Spec {
  path: string;
  headers?: Record<string, string>;
}

interface Measurement {
  name: string;
  config: 'shared' | 'routes' | 'per-post' | 'per-request';
  requests: Spec[];
  n: number;
  warmup?: Spec;
}

const stack = await startBenchStack({
  main: 'bench/request-cost.worker.ts',
  accessTokenTtl: 3600,
  vars: { ORIGIN_URL: 'http://127.0.0.1:9', BENCH_ROUTES: JSON.stringify(ROUTES) },
});
try {
  const cookie = await signInThroughEdge(stack.edge);
  const token = await clientCredentialsToken(stack.provider.issuer, SCOPE);
  const fresh: string[] = [];
  while (fresh.length < COLD_N)
    fresh.push(
      ...(await Promise.all(Array.from({ length: 10 }, () => clientCredentialsToken(stack.provider.issuer, SCOPE)))),
    );
  const page = { cookie, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
  const bearer = (value: string) => ({ path: '/api/ping', headers: { authorization: `Bearer ${value}` } });
  const measurements: Measurement[] = [
    { name: 'public path (no auth): the baseline', config: 'shared', requests: [{ path: '/public/ping' }], n: N },
    { name: 'session page, session hit', config: 'shared', requests: [{ path: '/app/ping', headers: page }], n: N },
    { name: 'bearer API, repeated token', config: 'shared', requests: [bearer(token)], n: N },
    {
      name: 'bearer API, first-seen token',
      config: 'per-post',
      warmup: bearer(token),
      requests: fresh.slice(0, COLD_N).map(bearer),
      n: 1,
    },
    {
      name: 'session page through 50 ROUTES (2 conditions each)',
      config: 'routes',
      requests: [{ path: '/r/49/ping', headers: page }],
      n: N,
    },
    {
      name: 'cold: fresh configuration, bearer API',
      config: 'per-request',
      requests: [bearer(token)],
      n: COLD_N,
    },
    {
      name: 'cold: fresh configuration, session page',
      config: 'per-request',
      requests: [{ path: '/app/ping', headers: page }],
      n: COLD_N,
    },
  ];

  const timed = async (measurement: Measurement, n: number) => {
    const started = performance.now();
    const response = await fetch(`${stack.edge}/__bench/loop`, {
      method: 'POST',
      body: JSON.stringify({ ...measurement, n, expect: 200 }),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${measurement.name}: ${response.status} ${text}`);
    return performance.now() - started;
  };

  console.log(
    `\nkenni-edge CPU per request inside workerd (wrangler dev), origin answered in the isolate; N requests per timed request minus the same with N = 0, median of ${REPEATS}\n`,
  );
  console.log(
    'request                                               requests   µs per request   over baseline   provider requests',
  );
  let baseline = 0;
  for (const measurement of measurements) {
    await timed(measurement, Math.min(measurement.n, 20)); // warm: compile, caches, session record
    const empty: number[] = [];
    const full: number[] = [];
    const before = stack.provider.requestCount();
    for (let i = 0; i < REPEATS; i++) {
      empty.push(await timed(measurement, 0));
      full.push(await timed(measurement, measurement.n));
    }
    const providerRequests = stack.provider.requestCount() - before;
    const count = measurement.n * measurement.requests.length;
    const perRequest = ((median(full) - median(empty)) * 1000) / count;
    if (measurement.name.startsWith('public')) baseline = perRequest;
    const over = measurement.name.startsWith('public') ? '' : `+${(perRequest - baseline).toFixed(0)}`;
    console.log(
      `${measurement.name.padEnd(54)}${String(count).padStart(8)}${perRequest.toFixed(0).padStart(17)}${over.padStart(16)}${String(providerRequests).padStart(20)}`,
    );
  }
  console.log(
    '\nfirst-seen: distinct client-credentials tokens, a fresh configuration per timed request (its warm-up request is in both timings);\ncold: a fresh configuration object for every request (config parse, discovery and JWKS from the Cache API, key import, KV read).',
  );
} finally {
  await stack.stop();
}
