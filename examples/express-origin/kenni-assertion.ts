/**
 * Verifies the edge's `X-Kenni-Assertion` on an origin behind kenni-edge, so the
 * origin trusts an identity only when the edge signed it: ES256 against the
 * edge's `/auth/jwks.json`, `iss` exactly the edge's origin, `aud` exactly this
 * origin (as the edge's `ORIGIN_URL` or route `origin` names it), `sub`, `iat`
 * and `exp` present (the edge signs 60-second assertions). Express middleware
 * that also works on plain `node:http`; only `jose` is needed.
 * @see https://www.rfc-editor.org/rfc/rfc7519#section-7.2
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

/** Where the edge is and who this origin is. */
export interface KenniAssertionOptions {
  /** The edge's public origin, e.g. `https://app.example.is`: the assertion's `iss`; its keys are at `/auth/jwks.json`. */
  edge: string;
  /** This origin's own origin as the edge forwards to it, e.g. `https://origin.example.is`: the assertion's `aud`. */
  audience: string;
}

/** The verified identity: `sub`, and `national_id`, `name`, `auth`, `act`, `delegation_type` when the edge sent them. */
export type KenniIdentity = JWTPayload & { sub: string };

/** A request after {@link kenniAssertion}: `kenni` is set only from a verified assertion. */
export type KenniRequest = IncomingMessage & { kenni?: KenniIdentity };

/** A verifier for one edge and audience; it fetches and caches the edge's keys (again on an unknown `kid`). */
export function createAssertionVerifier(options: KenniAssertionOptions): (assertion: string) => Promise<KenniIdentity> {
  const edge = new URL(options.edge).origin;
  const audience = new URL(options.audience).origin;
  const keys = createRemoteJWKSet(new URL('/auth/jwks.json', edge));
  return async (assertion) => {
    const { payload } = await jwtVerify(assertion, keys, {
      algorithms: ['ES256'],
      typ: 'JWT',
      issuer: edge,
      audience,
      requiredClaims: ['sub', 'iat', 'exp'],
      maxTokenAge: '120s',
      clockTolerance: '5s',
    });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('the assertion names no subject');
    return payload as KenniIdentity;
  };
}

/**
 * Middleware: a request with a valid assertion gets `req.kenni`; one without an
 * assertion passes without it (the edge forwards `PUBLIC_PATHS` anonymously);
 * one with an invalid assertion is refused with 401. Never read the plain
 * `X-Kenni-*` headers for identity unless the network lets only the edge in.
 * @example
 * app.use(kenniAssertion({ edge: 'https://app.example.is', audience: 'https://origin.example.is' }));
 */
export function kenniAssertion(
  options: KenniAssertionOptions,
): (req: KenniRequest, res: ServerResponse, next: (error?: unknown) => void) => void {
  const verify = createAssertionVerifier(options);
  return (req, res, next) => {
    delete req.kenni;
    const assertion = req.headers['x-kenni-assertion'];
    if (assertion === undefined) return next();
    if (typeof assertion !== 'string') return refuse(res);
    verify(assertion).then(
      (identity) => {
        req.kenni = identity;
        next();
      },
      () => refuse(res),
    );
  };
}

/**
 * Middleware for routes that need someone signed in: 401 unless
 * {@link kenniAssertion} verified an identity.
 * @example
 * app.get('/account', requireKenniIdentity, (req: KenniRequest, res) => res.json({ sub: req.kenni!.sub }));
 */
export function requireKenniIdentity(req: KenniRequest, res: ServerResponse, next: (error?: unknown) => void): void {
  if (req.kenni) next();
  else refuse(res);
}

function refuse(res: ServerResponse): void {
  res.statusCode = 401;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify({ error: 'unauthorized', error_description: 'no valid X-Kenni-Assertion' }));
}
