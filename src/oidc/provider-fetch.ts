/**
 * Every request to the provider goes through here: a bounded timeout, and
 * network failures and 5xx answers turned into one 502 error.
 */
import { AppError } from '../errors.ts';

/**
 * A `fetch` for provider endpoints that gives up after `timeoutMs` and turns a
 * network failure into an `AppError('provider_unreachable', 502)`.
 */
export function createProviderFetch(timeoutMs: number): typeof fetch {
  return async (input, init) => {
    try {
      return await fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw new AppError('provider_unreachable', 'The sign-in provider could not be reached. Please try again shortly.', { cause });
    }
  };
}

/** Throws `provider_unreachable` (502) for a 5xx answer from the provider. */
export function assertProviderAvailable(response: Response): void {
  if (response.status >= 500) {
    throw new AppError('provider_unreachable', `The sign-in provider answered with an error (HTTP ${response.status}). Please try again shortly.`);
  }
}
