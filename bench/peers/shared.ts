/**
 * What every peer worker shares: the same plain forward to the origin (the
 * peers do no header work, so their baseline and their protected route differ
 * only by the auth middleware), and the same scope check the edge makes
 * (`KENNI_API_SCOPE`), so a peer does not win by checking less there.
 */
import type { Context } from 'hono';

/** Settings every peer worker reads from its `[vars]`. */
export interface PeerBindings {
  ORIGIN_URL: string;
  KENNI_ISSUER: string;
  /** The provider's `jwks_uri`, read from discovery by the bench (the peers do no discovery). */
  JWKS_URI: string;
  /** The `aud` access tokens must carry (the edge's `KENNI_API_AUDIENCE`). */
  API_AUDIENCE: string;
  /** The scope access tokens must carry (the edge's `KENNI_API_SCOPE`). */
  API_SCOPE: string;
}

/**
 * Forwards the request to `ORIGIN_URL` unchanged, path and query kept. The
 * answer is a copy with mutable headers: `@hono/oidc-auth` sets
 * `Cache-Control` on it (a `fetch` response's headers are immutable).
 */
export async function toOrigin(c: Context<{ Bindings: PeerBindings }>): Promise<Response> {
  const url = new URL(c.req.url);
  const response = await fetch(new URL(`${url.pathname}${url.search}`, c.env.ORIGIN_URL), {
    method: c.req.method,
    headers: c.req.raw.headers,
    redirect: 'manual',
  });
  return new Response(response.body, response);
}

/** The edge's scope rule: every scope in `required` must be in the token's space-separated `scope`. */
export function hasScope(claims: object, required: string): boolean {
  const scope: unknown = (claims as { scope?: unknown }).scope;
  return typeof scope === 'string' && scope.split(' ').includes(required);
}

/** RFC 6750 §3.1 answer for a missing scope. */
export function insufficientScope(required: string): Response {
  return new Response(null, {
    status: 403,
    headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${required}"` },
  });
}
