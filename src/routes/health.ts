/**
 * `GET /auth/health`: can the edge do its job? The configuration parses,
 * discovery is held and the provider's keys are at hand, each with how old it
 * is. 200 `ok`, 200 `degraded` (the provider is down but the copies kept for
 * that still serve), or 503 naming the failing parts. Decided by the exact path
 * alone, never by a header (a health check keyed on the User-Agent once opened
 * oauth2-proxy to anyone who sent it), and answered from the provider object's
 * own caches: no provider request in steady state.
 */
import type { Context, Next } from 'hono';
import type { Env, KenniEdgeConfig } from '../config.ts';
import { loadConfig } from '../config.ts';
import type { AppEnv } from '../context.ts';
import { AppError, ConfigError } from '../errors.ts';
import { loadProvider, type Provider } from '../provider/index.ts';

/** The health route: this exact path, nothing else. */
export const HEALTH_PATH = '/auth/health';

/** One checked part: its state and, when known, how old the copy is and why it failed. */
export interface HealthPart {
  status: 'ok' | 'stale' | 'unavailable' | 'unknown';
  age_seconds?: number;
  keys?: number;
  /** A stable error code when the part failed (never a message, URL or value). */
  reason?: string;
}

/** The answer of `GET /auth/health`. */
export interface HealthReport {
  status: 'ok' | 'degraded' | 'fail';
  /** The parts that make the answer a 503. */
  failing?: Array<'configuration' | 'discovery' | 'jwks'>;
  configuration: 'ok' | 'invalid';
  /** With an invalid configuration: the names of the variables at fault (never their values). */
  variables?: string[];
  discovery?: HealthPart;
  jwks?: HealthPart;
}

/** A failed check is answered again for this long without asking the provider: probes must not hammer it. */
const FAILURE_HOLD_MS = 10_000;
const heldFailures = new WeakMap<Provider, { at: number; report: HealthReport }>();

/**
 * Handles `GET /auth/health` (registered before the configuration middleware: a
 * bad configuration is its answer). The exact path only: a router that also
 * matches `/auth/health/` passes that on, to the 404 of `/auth/*`.
 */
export async function handleHealth(c: Context<AppEnv>, next: Next): Promise<Response | void> {
  if (new URL(c.req.url).pathname !== HEALTH_PATH) return next();
  const report = await checkHealth(c.env);
  return c.json(report, report.status === 'fail' ? 503 : 200, { 'cache-control': 'no-store' });
}

/**
 * Checks the configuration, discovery and the provider's key set for `env`.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html
 */
export async function checkHealth(env: Env): Promise<HealthReport> {
  let config: KenniEdgeConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const variables = [...new Set(error.problems.map((problem) => problem.variable))];
    return { status: 'fail', failing: ['configuration'], configuration: 'invalid', variables };
  }
  const provider = loadProvider(config);
  const held = heldFailures.get(provider);
  if (held && Date.now() - held.at < FAILURE_HOLD_MS) return held.report;

  const report = await checkProvider(provider);
  if (report.status === 'fail') heldFailures.set(provider, { at: Date.now(), report });
  else heldFailures.delete(provider);
  return report;
}

async function checkProvider(provider: Provider): Promise<HealthReport> {
  let jwksUri: string | undefined;
  let discovery: HealthPart;
  try {
    const server = await provider.discovery();
    const held = provider.discoveryStatus;
    discovery = {
      status: held?.stale ? 'stale' : 'ok',
      ...(held ? { age_seconds: ageSeconds(held.storedAt) } : {}),
    };
    jwksUri = server.jwks_uri;
  } catch (error) {
    discovery = { status: 'unavailable', reason: reasonOf(error) };
  }

  let jwks: HealthPart;
  if (discovery.status === 'unavailable') {
    jwks = { status: 'unknown' };
  } else if (!jwksUri) {
    jwks = { status: 'unavailable', reason: 'no_jwks_uri' };
  } else {
    try {
      const keys = await provider.keys.status(jwksUri);
      jwks =
        keys.keys === 0
          ? { status: 'unavailable', age_seconds: ageSeconds(keys.fetchedAt), keys: 0, reason: 'no_keys' }
          : { status: keys.stale ? 'stale' : 'ok', age_seconds: ageSeconds(keys.fetchedAt), keys: keys.keys };
    } catch (error) {
      jwks = { status: 'unavailable', reason: reasonOf(error) };
    }
  }

  const failing = [
    ...(discovery.status === 'unavailable' ? (['discovery'] as const) : []),
    ...(jwks.status === 'unavailable' ? (['jwks'] as const) : []),
  ];
  const degraded = discovery.status === 'stale' || jwks.status === 'stale';
  return {
    status: failing.length > 0 ? 'fail' : degraded ? 'degraded' : 'ok',
    ...(failing.length > 0 ? { failing } : {}),
    configuration: 'ok',
    discovery,
    jwks,
  };
}

function ageSeconds(since: number): number {
  return Math.max(0, Math.floor((Date.now() - since) / 1000));
}

/** The error's stable code: an `AppError`'s, else `internal_error` (a message could carry a URL or a value). */
function reasonOf(error: unknown): string {
  return error instanceof AppError ? error.code : 'internal_error';
}
