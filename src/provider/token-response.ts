/**
 * Token endpoint answers as the error model sees them. oauth4webapi failures
 * are told apart by their class and `code` / `error`, never by message text;
 * a body that is not JSON is recognised before oauth4webapi reads it.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
import * as oauth from 'oauth4webapi';
import { AppError } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { assertProviderAvailable } from './provider-fetch.ts';

/** Tokens as the provider returned them (kept server-side only). */
export interface ProviderTokens {
  access_token: string;
  token_type: string;
  id_token?: string;
  refresh_token?: string;
  scope?: string;
  /** Absolute expiry of the access token, seconds since the epoch. */
  expires_at: number;
}

/** Runs an oauth4webapi `process…Response` and maps its failures: invalid_grant, provider down or refusing us, an unreadable answer, or a bad token. */
export async function processTokenResponse(
  process: () => Promise<oauth.TokenEndpointResponse>,
  response: Response,
): Promise<oauth.TokenEndpointResponse> {
  assertProviderAvailable(response);
  // Not an OAuth answer at all (an HTML page, broken JSON): the provider or something in front of it failed, not this login.
  // Checked here because oauth4webapi reports a broken body and a broken ID token segment with the same code.
  if (response.status === 200 && !(await isJsonBody(response))) throw unreadable();
  try {
    return await process();
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) {
      if (error.error === 'invalid_grant') {
        throw new AppError(
          'invalid_grant',
          'The sign-in code or refresh token was rejected by the provider (expired or already used).',
          { oauthError: 'invalid_grant', retryHref: '/auth/login', cause: error },
        );
      }
      const code = /^[a-z_]{1,64}$/.test(error.error) ? error.error : 'error';
      // The operator's mistake (wrong client id or secret), not the user's: a 502 with the hint in the log.
      throw new AppError(
        'provider_misconfigured',
        'The sign-in provider refused this application. Please try again later.',
        { cause: error, reason: `token_endpoint_${code}` },
      );
    }
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      throw new AppError(
        'provider_misconfigured',
        'The sign-in provider refused this application. Please try again later.',
        { cause: error, reason: 'token_endpoint_client_authentication' },
      );
    }
    if (
      error instanceof oauth.OperationProcessingError &&
      (error.code === oauth.RESPONSE_IS_NOT_JSON || error.code === oauth.RESPONSE_IS_NOT_CONFORM)
    ) {
      // A 502 also keeps a session whose refresh meets it, instead of ending it.
      throw unreadable(error);
    }
    throw new AppError('id_token_invalid', 'The token response from the provider failed validation.', {
      cause: error,
      retryHref: '/auth/login',
    });
  }
}

/** The grant's result as stored: an absolute expiry (300 s when the provider names none). */
export function toProviderTokens(result: oauth.TokenEndpointResponse): ProviderTokens {
  const expiresIn = typeof result.expires_in === 'number' && result.expires_in > 0 ? result.expires_in : 300;
  return {
    access_token: result.access_token,
    token_type: result.token_type,
    ...(result.id_token ? { id_token: result.id_token } : {}),
    ...(result.refresh_token ? { refresh_token: result.refresh_token } : {}),
    ...(typeof result.scope === 'string' ? { scope: result.scope } : {}),
    expires_at: nowSeconds() + expiresIn,
  };
}

/** True when the body parses as JSON (read from a clone, so oauth4webapi still reads the original). */
async function isJsonBody(response: Response): Promise<boolean> {
  try {
    JSON.parse(await response.clone().text());
    return true;
  } catch {
    return false;
  }
}

function unreadable(cause?: unknown): AppError {
  return new AppError(
    'token_response_invalid',
    'The sign-in provider sent an unreadable answer. Please try again shortly.',
    cause === undefined ? {} : { cause },
  );
}
