/**
 * `GET /auth/jwks.json`: the public keys of `EDGE_SIGNING_KEY`, so origins can
 * verify the `X-Kenni-Assertion` header.
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { edgePublicJwks } from '../gateway/assertion.ts';

/** Handles `GET /auth/jwks.json`. */
export async function handleEdgeJwks(c: Context<AppEnv>): Promise<Response> {
  return c.json(await edgePublicJwks(c.get('config')), 200, {
    'content-type': 'application/jwk-set+json',
    'cache-control': 'public, max-age=300',
  });
}
