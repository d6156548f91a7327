/**
 * Validation of back-channel logout tokens: the provider's keys and the ID
 * token algorithm allow-list, `iss`, `aud`, `iat` (not in the future, not
 * old), `exp` when present, `typ` `logout+jwt` when present, the back-channel
 * logout event, `sid` and/or `sub`, no `nonce`, and a `jti` never seen before.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
import type { JWTPayload } from 'jose';
import type * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { isRecord } from '../config-values.ts';
import { AppError } from '../errors.ts';
import { sha256Hex } from '../session/seal.ts';
import { nowSeconds } from '../time.ts';
import { TtlMap } from '../util/ttl-map.ts';
import { decodeJsonSegment, JwtError, verifyJwt } from '../util/jws.ts';
import { signingAlgorithms } from './jwk-rules.ts';
import type { KeySet } from './key-set.ts';

/** The member of `events` that makes a JWT a back-channel logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A logout token older than this (seconds, by its `iat`) is refused: providers send them at once (oidc-provider: 120 s lifetime). */
export const LOGOUT_TOKEN_MAX_AGE = 300;

/** Longest token accepted before any parsing. */
const MAX_TOKEN_LENGTH = 16_384;
/** `sid`, `sub` and `jti` longer than this are not a provider's. */
const MAX_CLAIM_LENGTH = 1024;
/** `typ` of a logout token, with or without the `application/` prefix (media types are case-insensitive). */
const LOGOUT_TYP = /^(application\/)?logout\+jwt$/i;
/** jti's remembered in this isolate (a back-channel logout is rare; this bounds a flood). */
const MAX_REMEMBERED_JTIS = 10_000;

/** A verified logout token: whose sessions to end. At least one of `sid` and `sub` is set. */
export interface VerifiedLogoutToken {
  /** The provider's session id, when the token names one. */
  readonly sid: string | undefined;
  /** The subject, when the token names one. */
  readonly sub: string | undefined;
  readonly claims: JWTPayload;
}

/**
 * Where a logout token's `jti` is claimed: answers true when `key` was not
 * claimed before, and keeps it claimed for `ttlSeconds`. The session layer
 * provides it (KV, and the `SessionLock` Durable Object when bound).
 */
export interface ReplayGuard {
  claim(key: string, ttlSeconds: number): Promise<boolean>;
}

/** Verifies logout tokens for one configuration with its provider's key set; remembers `jti`s in the isolate. */
export class LogoutTokenVerifier {
  readonly #config: KenniEdgeConfig;
  readonly #keys: KeySet;
  readonly #seen = new TtlMap<string, true>({ maxEntries: MAX_REMEMBERED_JTIS, ttlSeconds: LOGOUT_TOKEN_MAX_AGE });

  constructor(config: KenniEdgeConfig, keys: KeySet) {
    this.#config = config;
    this.#keys = keys;
  }

  /**
   * Validates `token` completely, then claims its `jti` (here and through
   * `replay`). Throws `logout_token_invalid` (400 `invalid_request`) for any
   * fault of the token, a replay included; `provider_unreachable` (502) when
   * the keys cannot be loaded. Nothing is recorded for a token that fails.
   */
  async verify(server: oauth.AuthorizationServer, token: string, replay: ReplayGuard): Promise<VerifiedLogoutToken> {
    const config = this.#config;
    if (!server.jwks_uri) throw new AppError('provider_unreachable', 'The provider publishes no jwks_uri.');
    const jwksUri = server.jwks_uri;
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3)
      throw invalid('malformed', 'The logout token is not a signed JWT.');
    let claims: JWTPayload;
    try {
      const { typ } = decodeJsonSegment(token.slice(0, token.indexOf('.')));
      if (typ !== undefined && (typeof typ !== 'string' || !LOGOUT_TYP.test(typ)))
        throw invalid('wrong_typ', 'The token is not a logout token (typ).');
      claims = await verifyJwt(token, (header) => this.#keys.resolve(jwksUri, header), {
        algorithms: signingAlgorithms(server),
        issuer: config.issuer,
        audience: config.clientId,
        clockTolerance: config.clockTolerance,
        requiredClaims: ['iss', 'aud', 'iat', 'jti'],
      });
    } catch (error) {
      throw translate(error);
    }
    const now = nowSeconds();
    const { iat, exp, jti, sid, sub, events } = claims;
    // jose checks `iat` is a number but accepts one in the future; a logout token must have been issued by now, and lately.
    if (typeof iat !== 'number' || iat > now + config.clockTolerance)
      throw invalid('iat_in_future', 'The logout token was issued in the future.');
    if (iat < now - LOGOUT_TOKEN_MAX_AGE - config.clockTolerance)
      throw invalid('too_old', 'The logout token is too old.');
    if (!isEventsWithLogout(events)) throw invalid('wrong_events', 'The token carries no back-channel logout event.');
    if ('nonce' in claims) throw invalid('nonce_present', 'A logout token must not carry a nonce.');
    if (!isClaimValue(jti)) throw invalid('missing_jti', 'The logout token has no usable jti.');
    if (sid !== undefined && !isClaimValue(sid)) throw invalid('malformed_sid', 'The logout token sid is malformed.');
    if (sub !== undefined && !isClaimValue(sub)) throw invalid('malformed_sub', 'The logout token sub is malformed.');
    if (sid === undefined && sub === undefined) throw invalid('no_sid_or_sub', 'The logout token names no session.');

    // Remembered as long as the token could be accepted at all: its exp, or the age limit by its iat.
    const lastAccepted = Math.min(iat + LOGOUT_TOKEN_MAX_AGE, typeof exp === 'number' ? exp : Infinity);
    const ttl = Math.max(60, lastAccepted + config.clockTolerance - now + 1);
    const key = `jti:${await sha256Hex(config.issuer + jti)}`;
    if (this.#seen.has(key)) throw replayed();
    this.#seen.set(key, true, ttl);
    let first: boolean;
    try {
      first = await replay.claim(key, ttl);
    } catch (error) {
      // Not recorded after all: the provider's retry must not be taken for a replay.
      this.#seen.delete(key);
      throw error;
    }
    if (!first) throw replayed();
    return { sid, sub, claims };
  }
}

function isEventsWithLogout(events: unknown): boolean {
  if (!isRecord(events)) return false;
  return Object.hasOwn(events, BACKCHANNEL_LOGOUT_EVENT) && isRecord(events[BACKCHANNEL_LOGOUT_EVENT]);
}

function isClaimValue(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH;
}

function invalid(reason: string, description: string, cause?: unknown): AppError {
  return new AppError('logout_token_invalid', description, { oauthError: 'invalid_request', reason, cause });
}

function replayed(): AppError {
  return invalid('replayed', 'This logout token was used before.');
}

/** Verification and key-set failures as `logout_token_invalid`; a provider outage (an `AppError` other than ours) passes through. */
function translate(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof JwtError)
    return invalid(error.reason, `The logout token could not be accepted (${error.reason}).`, error);
  return invalid('unverifiable', 'The logout token could not be verified.', error);
}
