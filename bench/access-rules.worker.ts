/**
 * Benchmark-only worker for the access-rules scenario: the edge itself, run
 * under one of two configurations of the same isolate, so "with ROUTES" and
 * "without ROUTES" are measured in one process side by side. A request with
 * `x-bench-config: plain` gets the bindings without `ROUTES`; every other one
 * (`x-bench-config: rules`) the bindings as given. Each configuration is one
 * `env` object for the isolate's lifetime, so each is parsed once, as in the
 * Worker.
 */
import type { Env } from '../src/config.ts';
import worker from '../src/index.ts';

export { SessionLock } from '../src/index.ts';

const plainEnvs = new WeakMap<Env, Env>();

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    if (request.headers.get('x-bench-config') !== 'plain') return worker.fetch(request, env, ctx);
    let plain = plainEnvs.get(env);
    if (!plain) {
      const { ROUTES: _routes, ...rest } = env;
      plain = rest as Env;
      plainEnvs.set(env, plain);
    }
    return worker.fetch(request, plain, ctx);
  },
};
