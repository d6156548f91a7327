/**
 * Verification of JWT access tokens at the edge: JWS compact only, algorithm
 * allow-list, the provider's JWKS, exact `iss`, `aud`, `exp` (required) and
 * `nbf` with a small leeway, and required scopes.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
import type { JWTPayload } from 'jose';
import type * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { decodeJsonSegment, JwtError, verifyJwt } from '../util/jws.ts';
import { TtlMap } from '../util/ttl-map.ts';
import { signingAlgorithms } from './jwk-rules.ts';
import { KeySetError, type KeySet } from './key-set.ts';

/**
 * A verified access token: its claims and granted scopes.
 * @example
 * const { claims, scopes } = await loadProvider(config).verifyAccessToken(token);
 * if (scopes.has('@your-team.is/orders.write')) return c.json({ sub: claims.sub });
 */
export interface VerifiedAccessToken {
  claims: JWTPayload & { sub?: string; scope?: string; client_id?: string };
  scopes: ReadonlySet<string>;
}

/** Longest token accepted before any parsing (real Kenni tokens are ~1–2 KB). */
const MAX_TOKEN_LENGTH = 16_384;
const SEGMENT = /^[A-Za-z0-9_-]+$/;
/** `typ` values of JWTs that are not access tokens and must never pass as one. */
const NOT_ACCESS_TOKEN_TYPES =
  /^(application\/)?(id_token|id-token|logout|secevent|dpop|jwt-bearer|token-introspection|oauth-authz-req)\+jwt$/i;

/** Options for {@link verifyAccessToken}. */
export interface VerifyAccessTokenOptions {
  /** Scopes the token must carry, all of them. */
  requiredScopes?: readonly string[];
  /** The expected `aud`; default `KENNI_API_AUDIENCE`. */
  audience?: string;
}

/** A verified result remembered by its token text, valid while the key set keeps its generation. */
interface Remembered {
  verified: VerifiedAccessToken;
  generation: number;
}

/** How long a verified token is remembered at most (never past its `exp` plus the leeway). */
const VERIFIED_CACHE_SECONDS = 60;
const MAX_VERIFIED_ENTRIES = 10_000;

/**
 * Verifies access tokens for one configuration with its provider's key set, and
 * remembers tokens verified lately, by their exact text, so a client that
 * sends the same token again costs a map lookup instead of a signature check.
 * A hit never skips the time checks or the scope check; it lasts at most a
 * minute and ends as soon as the key set changes.
 */
export class AccessTokenVerifier {
  readonly #config: KenniEdgeConfig;
  readonly #keys: KeySet;
  readonly #remembered = new TtlMap<string, Remembered>({
    maxEntries: MAX_VERIFIED_ENTRIES,
    ttlSeconds: VERIFIED_CACHE_SECONDS,
  });

  constructor(config: KenniEdgeConfig, keys: KeySet) {
    this.#config = config;
    this.#keys = keys;
  }

  /**
   * Verifies a bearer JWT against the provider described by `server`. Throws
   * `AppError` `bearer_invalid` (401, `invalid_token`) or `insufficient_scope`
   * (403) with a safe description; `provider_unreachable` (502) when no keys load.
   * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
   */
  async verify(
    server: oauth.AuthorizationServer,
    token: string,
    options: VerifyAccessTokenOptions = {},
  ): Promise<VerifiedAccessToken> {
    const config = this.#config;
    if (!server.jwks_uri) throw new AppError('provider_unreachable', 'The provider publishes no jwks_uri.');
    const jwksUri = server.jwks_uri;
    const audience = options.audience ?? config.apiAudience;
    const algorithms = signingAlgorithms(server);
    // A token verified a moment ago costs a lookup, before any parsing; the key holds everything the verification depends on.
    const cacheKey = `${config.issuer}\u0000${audience}\u0000${jwksUri}\u0000${algorithms.join(' ')}\u0000${token}`;
    const cached = this.#remembered.get(cacheKey);
    if (
      cached &&
      cached.generation === this.#keys.generation &&
      notBeforePassed(cached.verified, config.clockTolerance)
    ) {
      return requireScopes(cached.verified, options.requiredScopes);
    }

    const header = parseCompactJwsHeader(token);
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
      throw invalidToken('algorithm_not_allowed', `The token's algorithm is not allowed.`);
    }
    if (header.crit !== undefined)
      throw invalidToken('critical_header', 'The token has critical header parameters the edge does not understand.');
    if (typeof header.typ === 'string' && NOT_ACCESS_TOKEN_TYPES.test(header.typ))
      throw invalidToken('not_an_access_token', 'The token is not an access token.');
    let claims: VerifiedAccessToken['claims'];
    try {
      claims = await verifyJwt(token, (protectedHeader) => this.#keys.resolve(jwksUri, protectedHeader), {
        algorithms,
        issuer: config.issuer,
        audience,
        clockTolerance: config.clockTolerance,
        requiredClaims: ['exp', 'iss', 'aud'],
      });
    } catch (error) {
      throw translateVerificationError(error);
    }
    // An ID token is for the client, not the API: it carries a nonce or hashes of the code/token.
    if ('nonce' in claims || 'at_hash' in claims || 'c_hash' in claims)
      throw invalidToken('not_an_access_token', 'The token is an ID token, not an access token.');

    const verified: VerifiedAccessToken = { claims, scopes: readScopes(claims) };
    // Remembered no longer than `exp` (plus the leeway) allows: an expired entry is gone, so a hit needs no `exp` check.
    this.#remembered.set(
      cacheKey,
      { verified, generation: this.#keys.generation },
      Math.min(VERIFIED_CACHE_SECONDS, (claims.exp as number) + config.clockTolerance - nowSeconds()),
    );
    return requireScopes(verified, options.requiredScopes);
  }
}

/** Throws `insufficient_scope` (403) unless `verified` carries every scope of `requiredScopes`. */
export function requireScopes(
  verified: VerifiedAccessToken,
  requiredScopes: readonly string[] = [],
): VerifiedAccessToken {
  const missing = requiredScopes.filter((scope) => !verified.scopes.has(scope));
  if (missing.length > 0) {
    // The scopes are named once, in `scope` (cut short there): some may come from the client's `?scope=`.
    throw new AppError('insufficient_scope', 'The token lacks a required scope (named in scope).', {
      oauthError: 'insufficient_scope',
      scope: requiredScopes.join(' '),
    });
  }
  return verified;
}

/** A remembered result still passes the `nbf` check (with the leeway); `exp` bounds how long it is remembered. */
function notBeforePassed(verified: VerifiedAccessToken, tolerance: number): boolean {
  const { nbf } = verified.claims;
  return typeof nbf !== 'number' || nbf <= nowSeconds() + tolerance;
}

/** Reads `scope` (space-separated string) or `scp` (array) into a set. */
function readScopes(claims: JWTPayload): Set<string> {
  const scopes = new Set<string>();
  if (typeof claims.scope === 'string') for (const scope of claims.scope.split(' ')) if (scope) scopes.add(scope);
  if (Array.isArray(claims.scp))
    for (const scope of claims.scp) if (typeof scope === 'string' && scope) scopes.add(scope);
  return scopes;
}

/** Refuses anything but a JWS in compact form before any cryptography runs. */
function parseCompactJwsHeader(token: string): Record<string, unknown> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken('malformed', 'The token is too long.');
  const segments = token.split('.');
  if (segments.length !== 3)
    throw invalidToken(
      segments.length === 5 ? 'encrypted_token' : 'malformed',
      segments.length === 5 ? 'Encrypted tokens (JWE) are not accepted.' : 'The token is not a JWT.',
    );
  const [header, payload, signature] = segments as [string, string, string];
  if (!SEGMENT.test(header) || !SEGMENT.test(payload) || !SEGMENT.test(signature))
    throw invalidToken('malformed', 'The token is not a signed JWT.');
  try {
    return decodeJsonSegment(header);
  } catch {
    throw invalidToken('malformed', 'The token header is not valid.');
  }
}

function invalidToken(reason: string, description: string, cause?: unknown): AppError {
  return new AppError('bearer_invalid', description, { oauthError: 'invalid_token', reason, cause });
}

/** Key-set and verification failures as `bearer_invalid` (401); a provider outage (an `AppError`) passes through. */
function translateVerificationError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof KeySetError)
    return invalidToken(error.code, 'The token was not signed by a known key of the provider.', error);
  const reason = error instanceof JwtError ? error.reason : 'unverifiable';
  const descriptions: Record<string, string> = {
    expired: 'The token has expired.',
    invalid_iss: 'The token was issued by another issuer.',
    invalid_aud: 'The token is not meant for this API (audience).',
    invalid_nbf: 'The token is not valid yet.',
    invalid_exp: 'The token has no expiry.',
    invalid_iat: 'The token issue time is invalid.',
    bad_signature: 'The token signature is invalid.',
  };
  return invalidToken(reason, descriptions[reason] ?? 'The token could not be verified.', error);
}
