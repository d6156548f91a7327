/**
 * Benchmark-only worker: the whole edge app, plus `POST /__bench/loop`, which
 * runs requests through `app.fetch` in a loop inside one request, so the
 * caller can time the CPU of N requests from outside (workerd's clock does not
 * advance during pure CPU work). The origin is answered in the isolate (a
 * fixed `ok` for `BENCH_ORIGIN`), so no network time is counted; every other
 * request (the provider, KV, the Cache API) is real. Everything else is the
 * edge itself, which is how the bench signs in.
 *
 * Body: `{ n, requests: [{ path, headers }], expect, config, warmup? }`, where
 * `config` is `shared` (this isolate's configuration), `routes` (the same plus
 * `BENCH_ROUTES` as `ROUTES`), `per-post` (a fresh configuration for this
 * call: `warmup` runs first, then the loop sees a cold verifier and session
 * cache) or `per-request` (a fresh configuration for every request: config
 * parse, discovery and keys from the Cache API, first verification).
 */
import { createKenniEdge } from '../src/app.ts';
import type { Env } from '../src/config.ts';

/** What the edge's `ORIGIN_URL` points at; answered here, never on the network. */
const BENCH_ORIGIN = 'http://127.0.0.1:9';

const networkFetch = globalThis.fetch;
globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  if (url.startsWith(`${BENCH_ORIGIN}/`))
    return Promise.resolve(new Response('ok', { headers: { 'content-type': 'text/plain', 'content-length': '2' } }));
  return networkFetch(input, init);
};

interface RequestSpec {
  path: string;
  headers?: Record<string, string>;
}

interface LoopBody {
  n: number;
  requests: RequestSpec[];
  expect: number;
  config: 'shared' | 'routes' | 'per-post' | 'per-request';
  warmup?: RequestSpec;
}

type BenchEnv = Env & { BENCH_ROUTES: string };

const app = createKenniEdge();
const routesEnvs = new WeakMap<BenchEnv, Env>();

export default {
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== '/__bench/loop') return app.fetch(request, env, ctx);
    const body = await request.json<LoopBody>();
    let loopEnv: Env = env;
    if (body.config === 'routes') {
      // One object per isolate, so its configuration (with the 50 routes) is parsed once, as in a Worker.
      loopEnv = routesEnvs.get(env) ?? { ...env, ROUTES: env.BENCH_ROUTES };
      routesEnvs.set(env, loopEnv);
    }
    if (body.config === 'per-post') loopEnv = { ...env };
    const send = async (spec: RequestSpec, sendEnv: Env) => {
      const response = await app.fetch(new Request(new URL(spec.path, url), { headers: spec.headers }), sendEnv, ctx);
      await response.arrayBuffer();
      if (response.status !== body.expect) throw new Error(`${spec.path}: ${response.status}, expected ${body.expect}`);
    };
    if (body.warmup) await send(body.warmup, loopEnv);
    for (let i = 0; i < body.n; i++) {
      for (const spec of body.requests) await send(spec, body.config === 'per-request' ? { ...env } : loopEnv);
    }
    return new Response(String(body.n * body.requests.length));
  },
};
