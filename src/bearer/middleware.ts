/**
 * Reading and verifying a request's bearer token (`requireBearer()` and the
 * gateway build on these), with rejections logged as `bearer_rejected`.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { IdentityClaimsError, readIdentity, type Identity } from '../identity/claims.ts';
import { logEvent } from '../log.ts';
import { loadProvider, OPAQUE_ACCESS_TOKEN, type VerifiedAccessToken } from '../provider/index.ts';

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads the bearer token from an `Authorization` header. `undefined` when there
 * is none (or another scheme); throws `bearer_malformed` (400 `invalid_request`)
 * for a Bearer header that is not well formed.
 * @example
 * const token = readBearerToken(c.req.header('authorization') ?? null); // undefined without a Bearer header
 */
export function readBearerToken(authorization: string | null): string | undefined {
  if (authorization === null) return undefined;
  const value = authorization.trim();
  // "Bearer" followed by anything but a letter is a Bearer attempt; "Bearertoken" or "Basic …" is another scheme.
  if (!/^bearer(?![A-Za-z])/i.test(value)) return undefined;
  const token = value.slice('bearer'.length);
  if (!token.startsWith(' ') || !B64TOKEN.test(token.slice(1))) {
    throw new AppError('bearer_malformed', 'The Authorization header is not "Bearer <token>".', {
      oauthError: 'invalid_request',
      reason: 'malformed_header',
    });
  }
  return token.slice(1);
}

/**
 * The request's bearer token (see {@link readBearerToken}); a malformed header
 * is logged as `bearer_rejected` before its 400 is thrown.
 */
export function bearerTokenFrom(request: Request): string | undefined {
  try {
    return readBearerToken(request.headers.get('authorization'));
  } catch (error) {
    if (error instanceof AppError)
      logEvent('bearer_rejected', { reason: error.reason, status: error.status, path: new URL(request.url).pathname });
    throw error;
  }
}

/** The 401 for a request without any bearer token (RFC 6750 §3.1: a challenge without an error code). */
export function bearerMissing(): AppError {
  return new AppError('bearer_missing', 'A bearer access token is required.', { reason: 'missing' });
}

/**
 * Verifies a token against the configured provider and logs a rejection with
 * its reason: a credential shaped like the provider's opaque tokens by
 * introspection (RFC 7662), anything else as a JWT (a compact JWS never goes to
 * introspection; other shapes are refused without a provider call). A token
 * whose `actor` or `delegation_type` is malformed is `bearer_invalid` (401
 * `invalid_token`): an identity is used whole or not at all.
 */
export async function verifyBearer(
  config: KenniEdgeConfig,
  token: string,
  scopes: readonly string[],
  path: string,
): Promise<VerifiedBearer> {
  const provider = loadProvider(config);
  try {
    let verified: VerifiedAccessToken;
    if (!OPAQUE_ACCESS_TOKEN.test(token)) {
      verified = await provider.verifyAccessToken(token, { requiredScopes: scopes });
    } else if (!provider.introspect) {
      throw new AppError('bearer_invalid', 'Opaque access tokens are not accepted here.', {
        oauthError: 'invalid_token',
        reason: 'introspection_off',
      });
    } else {
      verified = await provider.introspect(token, { requiredScopes: scopes });
    }
    return { ...verified, identity: identityOf(verified.claims) };
  } catch (error) {
    if (error instanceof AppError) logEvent('bearer_rejected', { reason: error.reason, status: error.status, path });
    throw error;
  }
}

/** A verified bearer token with the identity read from it (once, checked strictly). */
export type VerifiedBearer = VerifiedAccessToken & { readonly identity: Identity };

function identityOf(claims: Readonly<Record<string, unknown>>): Identity {
  try {
    return readIdentity(claims, String(claims.sub ?? claims.client_id ?? ''));
  } catch (error) {
    if (!(error instanceof IdentityClaimsError)) throw error;
    throw new AppError('bearer_invalid', 'The access token names the acting person in a malformed way.', {
      oauthError: 'invalid_token',
      reason: error.reason,
    });
  }
}
