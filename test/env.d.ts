// The bindings `cloudflare:test` and `cloudflare:workers` expose in tests are the worker's own.
declare namespace Cloudflare {
  interface Env extends import('../src/config.ts').Env {}
}
