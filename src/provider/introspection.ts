/**
 * Opaque access tokens, checked with token introspection at the provider's
 * `introspection_endpoint`, authenticated as the client like the token
 * endpoint. Answers are cached by the token's SHA-256 (isolate, then sealed in
 * the Cache API), one introspection runs per token at a time, and calls for
 * tokens nobody has seen are rate limited per isolate, so random credentials
 * cannot turn the edge into a load generator against the provider.
 * @see https://www.rfc-editor.org/rfc/rfc7662
 */
import * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { deriveSealKey, seal, sha256Hex, unseal } from '../session/seal.ts';
import { singleFlight } from '../util/single-flight.ts';
import { TtlMap } from '../util/ttl-map.ts';
import { requireScopes, type VerifiedAccessToken, type VerifyAccessTokenOptions } from './access-token.ts';
import { createClient } from './client.ts';
import { providerRequestOptions } from './discovery.ts';
import { readEdgeCache, writeEdgeCache } from './edge-cache.ts';
import { assertProviderAvailable, sharedCallOptions } from './provider-fetch.ts';

/**
 * The shape of the provider's opaque access tokens: node-oidc-provider (which
 * Kenni appears to run) issues 32 random bytes as 43 base64url characters.
 * Only credentials of this shape are introspected; a compact JWS never is.
 */
export const OPAQUE_ACCESS_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Longest a positive answer is trusted (never past the token's `exp`). */
export const INTROSPECTION_POSITIVE_SECONDS = 60;
/** How long a refusal is remembered. */
export const INTROSPECTION_NEGATIVE_SECONDS = 10;
/**
 * Introspections of tokens not in any cache, per isolate: a bucket of
 * {@link INTROSPECTION_BURST} calls that refills at {@link INTROSPECTION_PER_SECOND}
 * per second, so at most `BURST + PER_SECOND × t` provider calls in `t` seconds.
 */
export const INTROSPECTION_BURST = 20;
/** See {@link INTROSPECTION_BURST}. */
export const INTROSPECTION_PER_SECOND = 5;
const MAX_CACHED_ANSWERS = 10_000;

/** An introspection answer as the edge keeps it: claims to trust until `expiresAt`, or a refusal reason. */
type Answer =
  | { active: true; claims: VerifiedAccessToken['claims']; expiresAt: number }
  | { active: false; reason: string; expiresAt: number };

const REFUSALS: Record<string, string> = {
  inactive: 'The token is not active.',
  expired: 'The token has expired.',
  exp_missing: 'The token has no expiry.',
  wrong_issuer: 'The token was issued by another issuer.',
  not_yet_valid: 'The token is not valid yet.',
  not_an_access_token: 'The token is not an access token.',
  introspection_invalid: 'The provider gave no valid answer about the token.',
};

/**
 * Introspects opaque access tokens for one configuration and keeps what it
 * learnt: the provider object's `introspect` slot.
 */
export class Introspector {
  readonly #config: KenniEdgeConfig;
  readonly #answers = new TtlMap<string, Answer>({
    maxEntries: MAX_CACHED_ANSWERS,
    ttlSeconds: INTROSPECTION_NEGATIVE_SECONDS,
  });
  readonly #flight: (key: string, run: (signal: AbortSignal) => Promise<Answer>) => Promise<Answer>;
  #tokens = INTROSPECTION_BURST;
  #refilledAt = Date.now();
  #calls = 0;

  constructor(config: KenniEdgeConfig) {
    this.#config = config;
    this.#flight = singleFlight(sharedCallOptions(config.providerTimeoutMs));
  }

  /** Introspection requests sent to the provider by this instance. */
  get calls(): number {
    return this.#calls;
  }

  /**
   * Checks an opaque token with the provider described by `server`. Throws
   * `bearer_invalid` (401) for a refusal, `insufficient_scope` (403),
   * `introspection_limited` (503) when this isolate's budget of provider calls
   * is spent, and `provider_unreachable` (502) when the provider cannot answer.
   */
  async introspect(
    server: oauth.AuthorizationServer,
    token: string,
    options: VerifyAccessTokenOptions = {},
  ): Promise<VerifiedAccessToken> {
    if (!OPAQUE_ACCESS_TOKEN.test(token)) throw refusal('malformed', 'The token is not a JWT.');
    if (!server.introspection_endpoint)
      throw refusal('introspection_unavailable', 'Opaque access tokens are not accepted here.');
    const hash = await sha256Hex(token);
    const answer =
      this.#answers.get(hash) ?? (await this.#flight(hash, (signal) => this.#lookUp(server, token, hash, signal)));
    if (!answer.active) throw refusal(answer.reason, REFUSALS[answer.reason] ?? 'The token is not valid.');
    return requireScopes({ claims: answer.claims, scopes: readScopes(answer.claims.scope) }, options.requiredScopes);
  }

  /** The Cache API copy, else the provider (within the rate limit); the answer is kept in both. */
  async #lookUp(server: oauth.AuthorizationServer, token: string, hash: string, signal: AbortSignal): Promise<Answer> {
    const config = this.#config;
    const name = `introspection ${config.issuer} ${config.clientId} ${hash}`;
    const key = await deriveSealKey(config.sessionSecret, 'introspection');
    const shared = await readEdgeCache<string>(config, name);
    const held = shared && (await unseal<Answer>(key, shared.value, name));
    if (held && held.expiresAt > nowSecondsExact()) return this.#remember(hash, held);
    if (!this.#take())
      throw new AppError('introspection_limited', 'Too many unknown access tokens at once; try again shortly.', {
        reason: 'introspection_limited',
        headers: { 'retry-after': '1' },
      });
    const answer = decide(config, await this.#ask(server, token, signal));
    this.#remember(hash, answer);
    await writeEdgeCache(config, name, await seal(key, answer, name), answer.expiresAt - nowSecondsExact());
    return answer;
  }

  async #ask(
    server: oauth.AuthorizationServer,
    token: string,
    signal: AbortSignal,
  ): Promise<oauth.IntrospectionResponse | undefined> {
    const { client, clientAuth } = createClient(this.#config);
    this.#calls++;
    const response = await oauth.introspectionRequest(server, client, clientAuth, token, {
      ...providerRequestOptions(this.#config, signal),
      additionalParameters: { token_type_hint: 'access_token' },
    });
    assertProviderAvailable(response);
    try {
      return await oauth.processIntrospectionResponse(server, client, response);
    } catch (cause) {
      // `active` that is not a boolean ("true", missing) is a refusal; an error answer means our client is not allowed.
      if (cause instanceof oauth.OperationProcessingError && cause.code === oauth.INVALID_RESPONSE) return undefined;
      throw new AppError('provider_misconfigured', 'The provider refused to introspect the token.', {
        reason: 'introspection_failed',
        cause,
      });
    }
  }

  #remember(hash: string, answer: Answer): Answer {
    const seconds = answer.expiresAt - nowSecondsExact();
    if (seconds > 0) this.#answers.set(hash, answer, seconds);
    return answer;
  }

  /** Takes one call from the isolate's bucket; false when it is empty. */
  #take(): boolean {
    const now = Date.now();
    this.#tokens = Math.min(
      INTROSPECTION_BURST,
      this.#tokens + ((now - this.#refilledAt) / 1000) * INTROSPECTION_PER_SECOND,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** The rules of the contract: `active` the boolean `true`, `exp` in the future, `iss` the issuer when present. */
function decide(config: KenniEdgeConfig, json: oauth.IntrospectionResponse | undefined): Answer {
  const now = nowSecondsExact();
  const no = (reason: string): Answer => ({ active: false, reason, expiresAt: now + INTROSPECTION_NEGATIVE_SECONDS });
  if (!json) return no('introspection_invalid');
  if (json.active !== true) return no('inactive');
  if (typeof json.exp !== 'number' || !Number.isFinite(json.exp)) return no('exp_missing');
  if (json.exp <= now) return no('expired');
  if (json.iss !== undefined && json.iss !== config.issuer) return no('wrong_issuer');
  if (typeof json.nbf === 'number' && json.nbf > now + config.clockTolerance) return no('not_yet_valid');
  // A refresh token is opaque too, and node-oidc-provider answers for it without a token_type; a DPoP-bound
  // token must not pass as Bearer (RFC 9449 §7.1). So only an answer naming a Bearer token passes.
  if (typeof json.token_type !== 'string' || json.token_type.toLowerCase() !== 'bearer')
    return no('not_an_access_token');
  if (json.scope !== undefined && typeof json.scope !== 'string') return no('introspection_invalid');
  const { active: _active, ...claims } = json;
  return { active: true, claims, expiresAt: Math.min(json.exp, now + INTROSPECTION_POSITIVE_SECONDS) };
}

function readScopes(scope: unknown): Set<string> {
  return new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
}

function refusal(reason: string, description: string): AppError {
  return new AppError('bearer_invalid', description, { oauthError: 'invalid_token', reason });
}

/** Seconds since the epoch with fractions, so a cache lifetime is never rounded up past `exp`. */
function nowSecondsExact(): number {
  return Date.now() / 1000;
}
