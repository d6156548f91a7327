/**
 * Every request to the provider goes through here: a bounded timeout, and
 * network failures and 5xx answers turned into one 502 error.
 */
import { AppError } from '../errors.ts';
import type { SingleFlightOptions } from '../util/single-flight.ts';

/**
 * A `fetch` for provider endpoints that gives up after `timeoutMs` (or when
 * `signal` aborts: a shared run that was abandoned) and turns a network
 * failure into an `AppError('provider_unreachable', 502)`.
 */
export function createProviderFetch(timeoutMs: number, signal?: AbortSignal): typeof fetch {
  return async (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await fetch(input, { ...init, signal: signal ? AbortSignal.any([timeout, signal]) : timeout });
    } catch (cause) {
      throw new AppError(
        'provider_unreachable',
        'The sign-in provider could not be reached. Please try again shortly.',
        { cause },
      );
    }
  };
}

/** Throws `provider_unreachable` (502) for a 5xx answer from the provider. */
export function assertProviderAvailable(response: Response): void {
  if (response.status >= 500) {
    throw new AppError(
      'provider_unreachable',
      `The sign-in provider answered with an error (HTTP ${response.status}). Please try again shortly.`,
    );
  }
}

/**
 * Options for a `singleFlight` of provider calls: a request waits for a call
 * another request started for one provider timeout per step plus room for the
 * Cache API before doing it itself, and fails with `provider_unreachable` (502)
 * when even its own call does not settle.
 */
export function sharedCallOptions(timeoutMs: number, steps = 1): SingleFlightOptions {
  return {
    waitMs: steps * timeoutMs + 5_000,
    timeoutError: () =>
      new AppError('provider_unreachable', 'The sign-in provider could not be reached. Please try again shortly.', {
        reason: 'shared_call_stalled',
      }),
  };
}
