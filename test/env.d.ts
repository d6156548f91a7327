// The bindings `cloudflare:test` and `cloudflare:workers` expose in tests are the worker's own.
type KenniEdgeEnv = import('../src/config.ts').Env;
declare namespace Cloudflare {
  interface Env extends KenniEdgeEnv {}
}
