/**
 * Calls the real worker (the default export of src/index.ts) inside workerd
 * with the test's bindings: the real KV and Cache API of the Workers Vitest
 * integration, and variables the test may override (e.g. a scripted issuer).
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index.ts';
import type { Env } from '../../src/config.ts';
import { EDGE_ORIGIN } from './presets.ts';
import { CookieJar } from './provider-login.ts';

export { EDGE_ORIGIN } from './presets.ts';

/** A worker under test with a fixed environment and a cookie jar, like one browser. */
export interface TestEdge {
  readonly env: Env;
  readonly jar: CookieJar;
  /** Sends a request to the worker (path or absolute URL); no redirects are followed; cookies are kept in `jar` unless `jar: false`. */
  fetch(path: string, init?: RequestInit & { jar?: CookieJar | false }): Promise<Response>;
}

/**
 * Creates a worker under test. `overrides` replace bindings from test/wrangler.test.toml
 * and vitest.config.ts; a value of `undefined` removes the binding.
 */
export function createTestEdge(overrides: Partial<Record<keyof Env, unknown>> = {}): TestEdge {
  return edgeWith(envWith(overrides), new CookieJar());
}

/** What answers requests: the worker, or an app built with the library (e.g. a `Hono` app). */
interface Handler {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
}

/**
 * Like {@link createTestEdge}, but `app` (your own app built from the
 * library's pieces) answers instead of the worker.
 */
export function createAppEdge(app: Handler, overrides: Partial<Record<keyof Env, unknown>> = {}): TestEdge {
  return edgeWith(envWith(overrides), new CookieJar(), app);
}

/** The test bindings with `overrides` applied (`undefined` removes one). */
function envWith(overrides: Partial<Record<keyof Env, unknown>>): Record<string, unknown> {
  const testEnv = { ...(env as unknown as Env) } as Record<string, unknown>;
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete testEnv[name];
    else testEnv[name] = value;
  }
  return testEnv;
}

/**
 * The worker with `edge`'s bindings in a new `env` object and `edge`'s cookie
 * jar: a cold isolate (a fresh configuration and provider object, so no
 * discovery, keys or tokens held) in the same data centre (the same KV and Cache API).
 */
export function coldIsolate(edge: TestEdge): TestEdge {
  return edgeWith({ ...(edge.env as unknown as Record<string, unknown>) }, edge.jar);
}

function edgeWith(testEnv: Record<string, unknown>, jar: CookieJar, handler: Handler = worker): TestEdge {
  return {
    env: testEnv as Env,
    jar,
    async fetch(path, init = {}) {
      const { jar: jarOption, ...requestInit } = init;
      const activeJar = jarOption === false ? undefined : (jarOption ?? jar);
      const request = new Request(new URL(path, EDGE_ORIGIN), { redirect: 'manual', ...requestInit });
      if (activeJar && !request.headers.has('cookie')) {
        const cookie = activeJar.header();
        if (cookie) request.headers.set('cookie', cookie);
      }
      const ctx = createExecutionContext();
      const response = await handler.fetch(request, testEnv as Env, ctx);
      await waitOnExecutionContext(ctx);
      activeJar?.store(response);
      return response;
    },
  };
}
