import { afterEach, describe, expect, it, vi } from 'vitest';
import { SingleFlightTimeoutError, singleFlight } from '../../src/util/single-flight.ts';

/** A promise with its settle functions outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('singleFlight', () => {
  it('runs once for concurrent callers of one key and shares the result', async () => {
    const flight = singleFlight<string, number>();
    const gate = deferred<number>();
    const run = vi.fn(() => gate.promise);
    const callers = [flight('k', run), flight('k', run), flight('k', run)];
    await Promise.resolve();
    gate.resolve(7);
    expect(await Promise.all(callers)).toEqual([7, 7, 7]);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('runs separately for different keys', async () => {
    const flight = singleFlight<string, string>();
    const results = await Promise.all([flight('a', async () => 'A'), flight('b', async () => 'B')]);
    expect(results).toEqual(['A', 'B']);
  });

  it('removes the entry when the run settles, so the next caller runs again', async () => {
    const flight = singleFlight<string, number>();
    let runs = 0;
    expect(await flight('k', async () => ++runs)).toBe(1);
    expect(await flight('k', async () => ++runs)).toBe(2);
  });

  it('settles every waiter with the error of a failed run, and forgets the failure', async () => {
    const flight = singleFlight<string, number>();
    const gate = deferred<number>();
    const callers = [flight('k', () => gate.promise), flight('k', () => gate.promise)].map((p) =>
      p.catch((error: unknown) => error),
    );
    await Promise.resolve();
    const failure = new Error('provider down');
    gate.reject(failure);
    expect(await Promise.all(callers)).toEqual([failure, failure]);
    expect(await flight('k', async () => 1)).toBe(1);
  });

  it('turns a synchronous throw of run into a rejection', async () => {
    const flight = singleFlight<string, number>();
    await expect(
      flight('k', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
  });

  it('lets a waiter take over a run that stalls (its owner was cancelled), and aborts the stalled run', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, string>({ waitMs: 1000 });
    const stalledSignals: AbortSignal[] = [];
    // Request A starts the shared run, then goes away: its run never settles (jose#355 on Workers).
    flight('k', (signal) => {
      stalledSignals.push(signal);
      return new Promise<string>(() => undefined);
    }).catch(() => undefined);
    // Request B joins the same flight; after its wait it runs the work itself.
    const waiter = flight('k', async () => 'fresh');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await waiter).toBe('fresh');
    expect(stalledSignals[0]?.aborted).toBe(true);
  });

  it('fails a waiter with an error when its own run stalls too, instead of hanging', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, string>({ waitMs: 1000 });
    flight('k', () => new Promise<string>(() => undefined)).catch(() => undefined);
    const outcome = flight('k', () => new Promise<string>(() => undefined)).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await outcome).toBeInstanceOf(SingleFlightTimeoutError);
  });

  it('fails the caller that started a run with an error when the run never settles', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, string>({ waitMs: 1000 });
    let settled = false;
    const outcome = flight('k', () => new Promise<string>(() => undefined)).catch((error: unknown) => {
      settled = true;
      return error;
    });
    await vi.advanceTimersByTimeAsync(2999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBeInstanceOf(SingleFlightTimeoutError);
  });

  it('uses the configured timeout error', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, string>({ waitMs: 10, timeoutError: () => new RangeError('too slow') });
    const outcome = flight('k', () => new Promise<string>(() => undefined)).catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(30);
    expect(await outcome).toEqual(new RangeError('too slow'));
  });

  it('sends waiters that time out together to one new run, not one each', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, number>({ waitMs: 1000 });
    flight('k', () => new Promise<number>(() => undefined)).catch(() => undefined);
    let takeovers = 0;
    const gate = deferred<number>();
    const run = () => {
      takeovers++;
      return gate.promise;
    };
    const waiters = [flight('k', run), flight('k', run), flight('k', run)];
    await vi.advanceTimersByTimeAsync(1000);
    gate.resolve(5);
    expect(await Promise.all(waiters)).toEqual([5, 5, 5]);
    expect(takeovers).toBe(1);
  });

  it('does not abort a healthy run that settles within the wait', async () => {
    vi.useFakeTimers();
    const flight = singleFlight<string, string>({ waitMs: 1000 });
    let signal: AbortSignal | undefined;
    const result = flight('k', (s) => {
      signal = s;
      return new Promise<string>((resolve) => setTimeout(() => resolve('slow but fine'), 900));
    });
    await vi.advanceTimersByTimeAsync(900);
    expect(await result).toBe('slow but fine');
    expect(signal?.aborted).toBe(false);
  });
});
