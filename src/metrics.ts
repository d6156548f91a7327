/**
 * Metrics without a dashboard to build: one Workers Analytics Engine data
 * point per auth decision, when a dataset is bound as `METRICS` (absent:
 * nothing happens). A point says what was decided (`event/outcome`), on which
 * route (the matched route's configured path, never the request path) and
 * why (a stable reason code); never a subject, national id, token or path
 * typed by a client. `writeDataPoint` is synchronous: no await on the hot path.
 * @see https://developers.cloudflare.com/analytics/analytics-engine/
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Env } from './config-types.ts';
import type { AppEnv } from './context.ts';
import { AppError } from './errors.ts';
import { maskDigitRuns } from './log.ts';

/** What a data point is about; its index, and the first half of its first blob. */
export type MetricEvent = 'login' | 'logout' | 'refresh' | 'bearer' | 'session' | 'access' | 'step_up' | 'gateway';

/**
 * One auth decision: written as blobs `[event/outcome, route, reason]`, double
 * `1` and index `event`.
 * @example
 * writeAuthDecision(c.env, { event: 'login', outcome: 'succeeded', route: '/auth/callback', reason: 'ok' });
 */
export interface AuthDecision {
  event: MetricEvent;
  /** e.g. `succeeded`, `failed`, `rejected`, `denied`, `passed`. */
  outcome: string;
  /** The matched route's configured path (`/auth/callback`, a `ROUTES` prefix, a Hono route pattern). */
  route: string;
  /** A stable reason code (`ok`, `session`, `bearer`, an error code or reason). */
  reason: string;
}

/**
 * Writes `decision` to the `METRICS` dataset, if one is bound. Never throws:
 * metrics must not break a request.
 */
export function writeAuthDecision(env: Env | undefined, decision: AuthDecision): void {
  writePoint(env, decision.event, decision.outcome, decision.route, decision.reason);
}

/** {@link writeAuthDecision} with positional fields (shorter call sites once minified). */
function writePoint(env: Env | undefined, event: MetricEvent, outcome: string, route: string, reason: string): void {
  const dataset = env?.METRICS as Partial<AnalyticsEngineDataset> | undefined;
  if (!dataset || typeof dataset.writeDataPoint !== 'function') return;
  try {
    dataset.writeDataPoint({
      indexes: [event],
      blobs: [`${event}/${outcome}`, safeLabel(route), safeLabel(reason)],
      doubles: [1],
    });
  } catch {
    // An over-quota or misbound dataset is the operator's to see in the dashboard, not the user's.
  }
}

/** A value fit for a metric: printable ASCII, at most 96 characters, digit runs masked as in the logs. */
function safeLabel(value: string): string {
  return maskDigitRuns(value.replace(/[^\x21-\x7e]/g, '_')).slice(0, 96);
}

/** The `/auth/*` routes that decide something, and what their answer means. */
const AUTH_ROUTES: Record<string, (error: AppError | undefined, status: number) => [MetricEvent, string]> = {
  '/auth/login': (error) => ['login', error ? 'failed' : 'started'],
  '/auth/callback': (error) => ['login', error ? 'failed' : 'succeeded'],
  '/auth/refresh': (error) => ['refresh', !error ? 'succeeded' : isRefusal(error) ? 'refused' : 'failed'],
  '/auth/logout': (error, status) => ['logout', error ? 'failed' : status >= 400 ? 'refused' : 'succeeded'],
  '/auth/verify': (error) => ['bearer', error ? 'rejected' : 'accepted'],
};

/** Errors that refuse a request before anything is attempted for it. */
function isRefusal(error: AppError): boolean {
  return error.code === 'cross_site_request' || error.code === 'session_required';
}

/** Requests already counted: the library's `kenniConfig()` and a mounted `createKenniEdge()` both see one request. */
const counted = new WeakSet<Request>();

/**
 * Middleware that writes the request's auth decision once it is answered:
 * used by `createKenniEdge()` and `kenniConfig()`. An error thrown past it
 * (an app without `onError`) is counted and thrown on.
 */
export const recordAuthMetrics: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    await next();
  } catch (error) {
    recordRequest(c, error);
    throw error;
  }
  recordRequest(c, c.error);
};

function recordRequest(c: Context<AppEnv>, thrown: unknown): void {
  if (!c.env?.METRICS || counted.has(c.req.raw)) return;
  counted.add(c.req.raw);
  const decision = decisionFor(c, thrown instanceof AppError ? thrown : undefined, thrown !== undefined);
  if (decision) writePoint(c.env, decision[0], decision[1], routeLabel(c), decision[2]);
}

/**
 * The route a request's points name: an `/auth/*` route, the gateway route's
 * configured prefix (`/` for the default page route), or the library route's
 * Hono pattern; `(ambiguous)` when the path's readings named different routes.
 */
export function routeLabel(c: Context<AppEnv>): string {
  const path = new URL(c.req.url).pathname;
  if (path in AUTH_ROUTES) return path;
  const classification = c.get('classification');
  if (classification) return classification.agreed ? (classification.agreed.path ?? '/') : '(ambiguous)';
  return c.req.routePath;
}

/** A decision as `[event, outcome, reason]`; the route is the request's {@link routeLabel}. */
type Decision = [MetricEvent, string, string];

/** The decision a request's answer stands for, or `undefined` when it decided nothing about anyone (e.g. a public path). */
function decisionFor(c: Context<AppEnv>, error: AppError | undefined, failed: boolean): Decision | undefined {
  const path = new URL(c.req.url).pathname;
  const reason = error?.reason ?? (failed ? 'internal_error' : 'ok');
  const auth = AUTH_ROUTES[path];
  if (auth) {
    const [event, outcome] = auth(error, c.res.status);
    const refusedPage = !error && event === 'logout' && outcome === 'refused';
    return [event, outcome, refusedPage ? 'cross_site_request' : reason];
  }
  if (path.startsWith('/auth/')) return undefined;
  const classification = c.get('classification');
  if (classification?.agreed?.kind === 'public') return undefined;
  const principal = c.get('principal');
  if (error || failed) {
    const refusal = refusalOf(error, principal !== undefined);
    if (refusal) return [refusal[0], refusal[1], reason];
    // Let through; what failed after (the origin, the app's handler) is not an auth decision.
    if (principal) return ['gateway', 'passed', principal.auth];
    // The provider could not be asked: no decision could be made.
    if (error && UNDECIDED.has(error.code)) return ['gateway', 'failed', reason];
    return undefined;
  }
  if (principal) return ['gateway', 'passed', principal.auth];
  // No principal and no error: a redirect to sign in, or a request no rule looked at (a preflight, an open route).
  const location = c.res.headers.get('location') ?? '';
  if (c.res.status === 302 && location.startsWith('/auth/login')) {
    return ['gateway', 'login_required', 'no_session'];
  }
  return undefined;
}

/** Errors that leave a request undecided: the provider (keys, introspection) could not be asked. */
const UNDECIDED = new Set<string>(['provider_unreachable', 'provider_misconfigured', 'introspection_limited']);

/** Which step refused a gateway or library request, from the error it ended with; `undefined` for no refusal. */
function refusalOf(error: AppError | undefined, authenticated: boolean): [MetricEvent, string] | undefined {
  const code: string = error?.code ?? 'internal_error';
  if (code === 'insufficient_user_authentication' || error?.reason === 'step_up_required')
    return ['step_up', 'required'];
  if (code === 'insufficient_scope') return authenticated ? DENIED : REJECTED;
  return REFUSALS[code];
}

const REJECTED: [MetricEvent, string] = ['bearer', 'rejected'];
const DENIED: [MetricEvent, string] = ['access', 'denied'];
const REFUSED: [MetricEvent, string] = ['gateway', 'refused'];

/** The refusal each error code stands for (see {@link refusalOf} for the ones that depend on more). */
const REFUSALS: Partial<Record<string, [MetricEvent, string]>> = {
  bearer_missing: REJECTED,
  bearer_malformed: REJECTED,
  bearer_invalid: REJECTED,
  access_denied: DENIED,
  delegation_denied: DENIED,
  cross_site_request: ['session', 'refused'],
  session_ended: ['session', 'ended'],
  session_required: REFUSED,
  path_ambiguous: REFUSED,
};

/**
 * Counts a refresh of the session's tokens that a request needed (gateway API
 * routes, `requireSession({ freshToken: true })`): `succeeded`, or `failed`
 * with the error's reason. `/auth/refresh` is counted as its request.
 */
export function recordRefresh(c: Context<AppEnv>, error?: unknown): void {
  if (!c.env?.METRICS) return;
  const failed = error !== undefined;
  const reason = error instanceof AppError ? error.reason : failed ? 'internal_error' : 'ok';
  writePoint(c.env, 'refresh', failed ? 'failed' : 'succeeded', routeLabel(c), reason);
}
