/**
 * A small closed-loop load generator on node:http with keep-alive: C
 * concurrent loops send the same request for a fixed time and count answers.
 * Bounded in time and count; only ever aimed at 127.0.0.1.
 */
import { Agent, request } from 'node:http';

/** One request shape to measure. */
export interface Scenario {
  name: string;
  path: string;
  headers?: Record<string, string>;
  /** The status every answer must have. */
  expectStatus: number;
}

/** The outcome of one timed run. */
export interface RunResult {
  name: string;
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
}

/** Sends one request and resolves with its status (the body is drained). */
export function send(base: string, scenario: Scenario, agent: Agent): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const url = new URL(scenario.path, base);
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: scenario.headers ?? {},
        agent,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolveStatus(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Runs `scenario` with `concurrency` loops for `seconds` (and at most `maxRequests`). */
export async function runFor(
  base: string,
  scenario: Scenario,
  options: { seconds: number; concurrency: number; maxRequests?: number },
): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const cap = options.maxRequests ?? 1_000_000;
  let requests = 0;
  let errors = 0;
  const loop = async () => {
    while (performance.now() < deadline && requests + errors < cap) {
      try {
        const status = await send(base, scenario, agent);
        if (status === scenario.expectStatus) requests++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { name: scenario.name, requests, errors, seconds, perSecond: requests / seconds };
}

/** The median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
