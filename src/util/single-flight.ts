/**
 * One run per key at a time: concurrent callers that need the same thing
 * (discovery, a key set, a token) share one request to the provider.
 *
 * The guard for Workers (jose#355): a promise started by request A and
 * awaited by request B can stay pending for B forever when A is cancelled,
 * because the I/O it waits on belonged to A. So every caller races the run
 * against a timer of its own; when the timer fires first, it abandons that run
 * (its signal aborts; the others waiting on it move on as well) and starts the
 * work again in its own request, or joins whoever already did. A caller fails
 * with an error after two such waits. The caller that started the run waits
 * twice as long the first time: a cancelled owner's timer never fires, so the
 * takeover is done by a caller that is still there. A caller going away
 * therefore never leaves the others hanging.
 */

/** Options of {@link singleFlight}. */
export interface SingleFlightOptions {
  /**
   * How long a caller waits for a run before it starts the work afresh;
   * longer than a healthy run can take (the provider timeout bounds those).
   * Default 15 000 ms.
   */
  waitMs?: number;
  /** The error a caller fails with when a run does not settle in time. */
  timeoutError?: () => Error;
}

/** The default error of a run that did not settle in time. */
export class SingleFlightTimeoutError extends Error {
  constructor() {
    super('A shared request did not settle in time.');
    this.name = 'SingleFlightTimeoutError';
  }
}

interface Flight<V> {
  promise: Promise<V>;
  controller: AbortController;
}

/**
 * Creates a single-flight group: the returned function runs `run` for `key`
 * unless a run for `key` is under way, in which case the caller shares its
 * result (or its error). The entry is removed when the run settles. `run` gets
 * an `AbortSignal` that fires only when the run is abandoned as stalled; a
 * caller being cancelled never aborts the shared run.
 * @example
 * const flight = singleFlight<string, Response>({ waitMs: 6000 });
 * const [a, b] = await Promise.all([flight(url, (signal) => fetch(url, { signal })), flight(url, (signal) => fetch(url, { signal }))]);
 * // one fetch, a === b
 */
export function singleFlight<K, V>(
  options: SingleFlightOptions = {},
): (key: K, run: (signal: AbortSignal) => Promise<V>) => Promise<V> {
  const flights = new Map<K, Flight<V>>();
  const waitMs = options.waitMs ?? 15_000;
  const timeoutError = options.timeoutError ?? (() => new SingleFlightTimeoutError());

  function start(key: K, run: (signal: AbortSignal) => Promise<V>): Flight<V> {
    const controller = new AbortController();
    const abandoned = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const flight: Flight<V> = {
      controller,
      promise: Promise.race([Promise.resolve().then(() => run(controller.signal)), abandoned]).finally(() => {
        if (flights.get(key) === flight) flights.delete(key);
      }),
    };
    // Callers that moved on no longer await an abandoned run; its failure is not an unhandled rejection.
    flight.promise.catch(() => undefined);
    flights.set(key, flight);
    return flight;
  }

  return async (key, run) => {
    // Two rounds: the run we find (or start), then, if it stalled or was abandoned, the run that replaces it.
    for (let round = 0; round < 2; round++) {
      const joined = flights.get(key);
      const flight = joined ?? start(key, run);
      // The caller that starts the first run gives it longer, so a stall is noticed (and the work redone) by a caller that joined.
      const wait = joined || round > 0 ? waitMs : 2 * waitMs;
      if ((await settlesWithin(flight.promise, wait)) && !flight.controller.signal.aborted) return flight.promise;
      // Stalled (its owner may have been cancelled): abandon it, so the next round starts the work afresh.
      if (flights.get(key) === flight) flights.delete(key);
      flight.controller.abort(timeoutError());
    }
    throw timeoutError();
  };
}

/** True when `promise` settles (either way) within `ms`; the timer lives in the caller's own request. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
