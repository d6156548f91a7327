/** The Hono environment shared by every route and middleware. */
import type { KenniEdgeConfig, Env } from './config.ts';
import type { ActiveSession } from './session/store.ts';
import type { VerifiedAccessToken } from './provider/index.ts';
import type { PathClassification } from './gateway/policy.ts';
import type { Principal } from './pipeline/principal.ts';

/**
 * Hono generics for the edge app: bindings, and what middleware leaves for later handlers.
 * @example
 * const app = new Hono<AppEnv>();
 */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: KenniEdgeConfig;
    /** Set by `requireSession()` / the gateway when a valid session cookie came with the request. */
    session: ActiveSession | undefined;
    /** Set by `requireBearer()` and the gateway when a bearer token was verified. */
    bearer: VerifiedAccessToken | undefined;
    /** Who the request speaks for: set by `requireSession()`, `requireBearer()` and the gateway. */
    principal: Principal | undefined;
    /** The session's fresh access token: set by `requireSession({ freshToken: true })`. */
    accessToken: string | undefined;
    /** The gateway path's readings and route, classified once per request. */
    classification: PathClassification | undefined;
    /** A session cookie came with the request but names no live session: the response clears it. */
    staleSessionCookie: boolean | undefined;
    /** How errors are answered on this route: JSON for APIs, a page for navigations. */
    errorFormat: 'json' | 'page' | undefined;
  };
}
