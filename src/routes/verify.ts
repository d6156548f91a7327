/**
 * `GET /auth/verify`: bearer verification for other proxies (forward auth for
 * nginx `auth_request`, Traefik, Caddy). `?scope=` names extra required scopes.
 * @see https://www.rfc-editor.org/rfc/rfc6750
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { bearerMissing, bearerTokenFrom, verifyBearer } from '../bearer/middleware.ts';
import { AppError } from '../errors.ts';
import { encodeIdentityValue } from '../gateway/forward.ts';
import { namingResourceMetadata } from '../resource-metadata.ts';

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Handles `GET /auth/verify`; its Bearer challenges name the resource metadata (RFC 9728 §5.1). */
export function handleVerify(c: Context<AppEnv>): Promise<Response> {
  return namingResourceMetadata(c, () => verify(c));
}

async function verify(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const token = bearerTokenFrom(c.req.raw);
  if (!token) throw bearerMissing();
  // Every `scope` parameter counts: a repeated one must not silently drop a requirement.
  const extra = (c.req.queries('scope') ?? []).flatMap((value) => value.split(' ')).filter(Boolean);
  // No token can carry such a scope; refusing it also keeps it out of every reflected value.
  if (!extra.every((scope) => SCOPE_TOKEN.test(scope))) {
    throw new AppError('scope_invalid', 'The scope parameter holds a value that is not an OAuth scope.', {
      oauthError: 'invalid_request',
    });
  }
  const scopes = [...new Set([...config.apiScopes, ...extra])];
  const { claims } = await verifyBearer(config, token, scopes, '/auth/verify');
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (typeof claims.sub === 'string') headers['x-kenni-sub'] = encodeIdentityValue(claims.sub);
  return c.json({ claims }, 200, headers);
}
