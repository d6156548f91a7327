/**
 * Peer: Hono's built-in `jwk` middleware (`hono/jwk`) on the bearer scenario,
 * with the edge's checks: RS256, `iss`, `aud`, `typ` `at+jwt`, and the scope.
 *
 * - `/api/*`: configured as its documentation shows, with `jwks_uri`: the
 *   middleware fetches the JWKS on every request (it keeps no copy).
 * - `/api-cached-keys/*`: the same middleware given `keys` from a copy this
 *   worker keeps for the isolate's lifetime (what a careful user would add;
 *   it never refreshes, so a key rotation needs a new isolate).
 * - `/public/*`: the no-auth baseline on this same worker.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { jwk } from 'hono/jwk';
import { hasScope, insufficientScope, toOrigin, type PeerBindings } from './shared.ts';

/** A public JWK as `hono/jwk` takes it. */
type HonoJsonWebKey = JsonWebKey & { kid?: string };
type PeerEnv = { Bindings: PeerBindings; Variables: { jwtPayload: { scope?: unknown } } };

let perRequestFetch: MiddlewareHandler<PeerEnv> | undefined;
let cachedKeys: MiddlewareHandler<PeerEnv> | undefined;
let keyCopy: Promise<HonoJsonWebKey[]> | undefined;

const verification = (env: PeerBindings) => ({ iss: env.KENNI_ISSUER, aud: env.API_AUDIENCE, typ: 'at+jwt' });

const scope: MiddlewareHandler<PeerEnv> = async (c, next) => {
  if (!hasScope(c.get('jwtPayload'), c.env.API_SCOPE)) return insufficientScope(c.env.API_SCOPE);
  await next();
};

const app = new Hono<PeerEnv>();
app.all('/public/*', toOrigin);
app.use('/api/*', (c, next) => {
  perRequestFetch ??= jwk({ jwks_uri: c.env.JWKS_URI, alg: ['RS256'], verification: verification(c.env) });
  return perRequestFetch(c, next);
});
app.use('/api-cached-keys/*', (c, next) => {
  cachedKeys ??= jwk({
    keys: () =>
      (keyCopy ??= fetch(c.env.JWKS_URI)
        .then((response) => response.json<{ keys: HonoJsonWebKey[] }>())
        .then((body) => body.keys)),
    alg: ['RS256'],
    verification: verification(c.env),
  });
  return cachedKeys(c, next);
});
app.use('/api/*', scope);
app.use('/api-cached-keys/*', scope);
app.all('/api/*', toOrigin);
app.all('/api-cached-keys/*', toOrigin);

export default app;
