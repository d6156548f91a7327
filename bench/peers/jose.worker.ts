/**
 * Peer: `jose`'s `createRemoteJWKSet` + `jwtVerify` on the bearer scenario,
 * with the edge's checks: RS256, `iss`, `aud`, `exp` required, `typ`
 * `at+jwt`, and the scope. The key set is one per isolate (jose keeps the
 * keys and refetches on an unknown `kid`, after a cooldown). `/public/*` is the
 * no-auth baseline on this same worker.
 */
import { Hono } from 'hono';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { hasScope, insufficientScope, toOrigin, type PeerBindings } from './shared.ts';

let keySet: ReturnType<typeof createRemoteJWKSet> | undefined;

const app = new Hono<{ Bindings: PeerBindings }>();
app.all('/public/*', toOrigin);
app.all('/api/*', async (c) => {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(c.req.header('authorization') ?? '');
  if (!match) return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
  keySet ??= createRemoteJWKSet(new URL(c.env.JWKS_URI));
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(match[1]!, keySet, {
      issuer: c.env.KENNI_ISSUER,
      audience: c.env.API_AUDIENCE,
      algorithms: ['RS256'],
      typ: 'at+jwt',
      requiredClaims: ['exp'],
    }));
  } catch {
    return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
  }
  if (!hasScope(claims, c.env.API_SCOPE)) return insufficientScope(c.env.API_SCOPE);
  return toOrigin(c);
});

export default app;
