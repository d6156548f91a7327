/**
 * The deployed Worker's entry (`main` in wrangler.toml): the default export of
 * `src/index.ts` and the `SessionLock` Durable Object, nothing else. The library's
 * other exports stay out of the Worker bundle (tree-shaken), which keeps it small.
 */
export { default, SessionLock } from '../index.ts';
