/**
 * The signature and time checks of an ID token against the provider's key set
 * (oauth4webapi checks the claims; it leaves the signature to us).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
import { jwtVerify, type JWTPayload } from 'jose';
import type * as oauth from 'oauth4webapi';
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { ASYMMETRIC_ALGORITHMS } from './jwk-rules.ts';
import type { KeySet } from './key-set.ts';

/** Verifies ID tokens for one configuration with its provider's key set. */
export class IdTokenVerifier {
  readonly #config: KenniEdgeConfig;
  readonly #keys: KeySet;

  constructor(config: KenniEdgeConfig, keys: KeySet) {
    this.#config = config;
    this.#keys = keys;
  }

  /**
   * Checks the signature (a key of the provider's JWKS, an advertised asymmetric
   * algorithm), `iss`, `aud` and an `iat` not in the future. Throws
   * `id_token_invalid` (400) for the token's own faults, `provider_unreachable`
   * (502) when the keys cannot be loaded.
   */
  async verify(server: oauth.AuthorizationServer, idToken: string): Promise<JWTPayload> {
    const config = this.#config;
    if (!server.jwks_uri) throw new AppError('provider_unreachable', 'The provider publishes no jwks_uri.');
    const jwksUri = server.jwks_uri;
    try {
      const { payload } = await jwtVerify(idToken, (header) => this.#keys.resolve(jwksUri, header), {
        algorithms: idTokenAlgorithms(server),
        issuer: config.issuer,
        audience: config.clientId,
        clockTolerance: config.clockTolerance,
      });
      // Neither jose (without maxTokenAge) nor oauth4webapi rejects an `iat` in the future; a token "issued" later than now is not one we accept.
      if (typeof payload.iat !== 'number' || payload.iat > nowSeconds() + config.clockTolerance)
        throw new Error('ID token iat is missing or in the future');
      return payload;
    } catch (error) {
      // The only AppError the key set throws is an outage; every other failure (a KeySetError included) is the token's.
      if (error instanceof AppError) throw error;
      throw new AppError('id_token_invalid', 'The ID token from the provider could not be verified.', {
        cause: error,
        retryHref: '/auth/login',
      });
    }
  }
}

/** Algorithms accepted for ID tokens (and logout tokens): what the provider advertises, asymmetric only. */
export function idTokenAlgorithms(server: oauth.AuthorizationServer): string[] {
  const advertised = server.id_token_signing_alg_values_supported ?? ['RS256'];
  return advertised.filter((alg) => ASYMMETRIC_ALGORITHMS.includes(alg));
}
