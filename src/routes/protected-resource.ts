/**
 * `GET /.well-known/oauth-protected-resource`: the edge's protected resource
 * metadata, public and the same for every caller.
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-3
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { protectedResourceMetadata } from '../resource-metadata.ts';

/** Handles `GET /.well-known/oauth-protected-resource` (readable cross-origin: browser-based clients discover it too). */
export function handleProtectedResource(c: Context<AppEnv>): Response {
  return c.json(protectedResourceMetadata(c.get('config'), c.req.url), 200, {
    'cache-control': 'public, max-age=300',
    'access-control-allow-origin': '*',
  });
}

/** Any other method on the metadata path: 405 (the path is the edge's, never forwarded to the origin). */
export function refuseProtectedResourceMethod(): never {
  throw new AppError('method_not_allowed', 'Use GET for this route.', { headers: { allow: 'GET' } });
}
