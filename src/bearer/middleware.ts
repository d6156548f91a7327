/**
 * `requireBearer()`: Hono middleware that lets a request through only with a
 * verified Kenni access token carrying the required scopes.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { loadAuthorizationServer } from '../oidc/discovery.ts';
import { verifyAccessToken, type VerifiedAccessToken } from './verify.ts';

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads the bearer token from an `Authorization` header. `undefined` when there
 * is none (or another scheme); throws `bearer_malformed` (400 `invalid_request`)
 * for a Bearer header that is not well formed.
 */
export function readBearerToken(authorization: string | null): string | undefined {
  if (authorization === null) return undefined;
  const match = /^([A-Za-z]+)(?: +(.*))?$/.exec(authorization.trim());
  if (!match || match[1]!.toLowerCase() !== 'bearer') return undefined;
  const token = match[2]?.trim() ?? '';
  if (token === '' || !B64TOKEN.test(token)) {
    throw new AppError('bearer_malformed', 400, 'The Authorization header is not "Bearer <token>".', { oauthError: 'invalid_request' });
  }
  return token;
}

/** Options for {@link requireBearer}. */
export interface RequireBearerOptions {
  /** Scopes every token must carry (default: `KENNI_API_SCOPE`). */
  scopes?: readonly string[];
}

/**
 * Verifies `Authorization: Bearer <jwt>` and stores the result in `c.var.bearer`.
 * Failures answer RFC 6750 JSON with `WWW-Authenticate`.
 */
export function requireBearer(options: RequireBearerOptions = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('errorFormat', 'json');
    const config = c.get('config');
    const token = readBearerToken(c.req.header('authorization') ?? null);
    if (!token) {
      throw new AppError('bearer_missing', 401, 'A bearer access token is required.', { oauthError: 'invalid_token', reason: 'missing' });
    }
    c.set('bearer', await verifyBearer(c.get('config'), token, options.scopes ?? config.apiScopes, new URL(c.req.url).pathname));
    await next();
  };
}

/** Verifies a token against the configured provider and logs a rejection with its reason. */
export async function verifyBearer(config: AppEnv['Variables']['config'], token: string, scopes: readonly string[], path: string): Promise<VerifiedAccessToken> {
  try {
    const server = await loadAuthorizationServer(config);
    return await verifyAccessToken(config, server, token, { requiredScopes: scopes });
  } catch (error) {
    if (error instanceof AppError) logEvent('bearer_rejected', { reason: error.reason, status: error.status, path });
    throw error;
  }
}
