/**
 * The signed identity assertion (`X-Kenni-Assertion`): a short-lived ES256 JWT
 * the edge signs with `EDGE_SIGNING_KEY`, so an origin can prove a request came
 * through the edge. The public keys are served at `/auth/jwks.json`.
 * @see https://www.rfc-editor.org/rfc/rfc7519
 */
import type { JWK } from 'jose';
import type { KenniEdgeConfig } from '../config.ts';
import { nowSeconds } from '../time.ts';
import { ecThumbprint, importJwk, signEs256 } from '../util/jws.ts';
import { TtlMap } from '../util/ttl-map.ts';

/** Lifetime of an assertion, seconds (contract: at most 60). */
export const ASSERTION_TTL = 60;
/** An assertion is reused while it has at least this long left, so signing stays off the hot path. */
const ASSERTION_REUSE_MARGIN = 30;

/** Who the assertion speaks for. */
export interface AssertedIdentity {
  sub: string;
  national_id?: string;
  name?: string;
  /** `session` or `bearer`: how the edge authenticated the request. */
  auth: 'session' | 'bearer';
  scope?: string;
  /** The person acting for `sub` on a delegated sign-in (RFC 8693 §4.1 `act`; only the members there are). */
  act?: { sub?: string; national_id?: string; name?: string };
  /** Kenni's `delegation_type`, with `act` only. */
  delegation_type?: string;
  /** When the person authenticated at the provider, when known. */
  auth_time?: number;
}

interface SigningKey {
  kid: string;
  key: CryptoKey;
}

const MAX_CACHED_ASSERTIONS = 5000;

/** One isolate's signing state for one configuration: the imported key and the assertions signed lately. */
interface AssertionState {
  /** `undefined` when no `EDGE_SIGNING_KEY` is configured. */
  readonly signingKey: Promise<SigningKey> | undefined;
  readonly assertions: TtlMap<string, { token: string; expiresAt: number }>;
}

const states = new WeakMap<KenniEdgeConfig, AssertionState>();

function assertionState(config: KenniEdgeConfig): AssertionState {
  let state = states.get(config);
  if (!state) {
    state = {
      signingKey: importSigningKey(config),
      assertions: new TtlMap({ maxEntries: MAX_CACHED_ASSERTIONS, ttlSeconds: ASSERTION_TTL }),
    };
    states.set(config, state);
  }
  return state;
}

/** The `kid` of an edge key: its own, or its RFC 7638 thumbprint. */
async function kidOf(jwk: JsonWebKey): Promise<string> {
  const declared = (jwk as JWK).kid;
  return declared ?? ecThumbprint(jwk);
}

function importSigningKey(config: KenniEdgeConfig): Promise<SigningKey> | undefined {
  const source = config.edgeSigningKeys[0];
  if (!source) return undefined;
  return (async () => ({
    kid: await kidOf(source),
    key: await importJwk(source, 'ES256', 'sign'),
  }))();
}

/**
 * Returns an assertion for the identity (`iss` the edge, `aud` the origin),
 * or `undefined` when no `EDGE_SIGNING_KEY` is configured.
 */
export async function createIdentityAssertion(
  config: KenniEdgeConfig,
  params: { edgeOrigin: string; audience: string; identity: AssertedIdentity },
): Promise<string | undefined> {
  const { signingKey, assertions } = assertionState(config);
  if (!signingKey) return undefined;
  const cacheKey = JSON.stringify([params.edgeOrigin, params.audience, params.identity]);
  const now = nowSeconds();
  const cached = assertions.get(cacheKey);
  if (cached && cached.expiresAt - now >= ASSERTION_REUSE_MARGIN) return cached.token;

  const { kid, key } = await signingKey;
  const { sub, ...claims } = params.identity;
  const token = await signEs256(
    key,
    { alg: 'ES256', typ: 'JWT', kid },
    { ...claims, iss: params.edgeOrigin, aud: params.audience, sub, iat: now, exp: now + ASSERTION_TTL },
  );
  assertions.set(cacheKey, { token, expiresAt: now + ASSERTION_TTL });
  return token;
}

/**
 * The public JWKS of every configured edge key (the first signs; the others
 * stay published during a rotation).
 */
export async function edgePublicJwks(config: KenniEdgeConfig): Promise<{ keys: JWK[] }> {
  const keys = await Promise.all(
    config.edgeSigningKeys.map(
      async (jwk) =>
        ({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, kid: await kidOf(jwk), alg: 'ES256', use: 'sig' }) as JWK,
    ),
  );
  return { keys };
}
