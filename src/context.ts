/** The Hono environment shared by every route and middleware. */
import type { KenniEdgeConfig, Env } from './config.ts';
import type { ActiveSession } from './session/store.ts';
import type { VerifiedAccessToken } from './provider/index.ts';

/** Hono generics for the edge app: bindings, and what middleware leaves for later handlers. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: KenniEdgeConfig;
    /** Set by `requireSession()` / the gateway when a valid session cookie came with the request. */
    session: ActiveSession | undefined;
    /** Set by `requireBearer()` when a bearer token was verified. */
    bearer: VerifiedAccessToken | undefined;
    /** A session cookie came with the request but names no live session: the response clears it. */
    staleSessionCookie: boolean | undefined;
    /** How errors are answered on this route: JSON for APIs, a page for navigations. */
    errorFormat: 'json' | 'page' | undefined;
  };
}
