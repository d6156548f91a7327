/**
 * kenni-edge: Kenni login and API protection at the edge, a Hono app on
 * Cloudflare Workers. The default export is the Worker; the named exports are
 * the pieces for composing your own Hono app.
 */
import { createKenniEdge } from './app.ts';

export { createKenniEdge, handleError, kenniConfig, type KenniEdgeOptions } from './app.ts';
export { loadConfig, parseConfig, type Env, type KenniEdgeConfig } from './config.ts';
export type { AppEnv } from './context.ts';
export { AppError, ConfigError, type ErrorCode } from './errors.ts';
export { readBearerToken } from './bearer/middleware.ts';
export {
  requireAccess,
  requireBearer,
  requireSession,
  type RequireBearerOptions,
  type RequireSessionOptions,
} from './pipeline/middleware.ts';
export type { AccessRuleSpec, ConditionSpec } from './access/rule-spec.ts';
export type { Principal } from './pipeline/principal.ts';
export type { Route, RouteKind, RouteRules } from './gateway/route.ts';
export { loadProvider, verifyAccessToken, type Provider, type VerifiedAccessToken } from './provider/index.ts';
export { loadRequestSession } from './session/middleware.ts';
export { SessionLock } from './session/lock.ts';
export {
  getClientCredentialsToken,
  type ClientCredentialsToken,
  type ClientCredentialsOptions,
} from './m2m/client-credentials.ts';

/** The Worker: every route of the contract plus the gateway. */
export default createKenniEdge();
