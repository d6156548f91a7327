/**
 * How fast a revocation reaches another isolate (issue 12, item 5), measured:
 * two `wrangler dev` processes share one KV (the same `--persist-to`) and the
 * same secrets, as two isolates of one deployment do. One person signs in
 * twice through A at the real local provider; B serves the second session (so
 * it holds it in its isolate cache); the first session revokes "every other
 * session" through A. A refuses the revoked cookie at once; B is polled once a
 * second until it refuses it too, and the delay is printed and bounded by the
 * isolate cache (`SESSION_ISOLATE_CACHE_SECONDS`) plus a little slack (local KV
 * has no propagation delay; in production KV adds up to ~60 s).
 *
 * Runs in Node (the `node` vitest project). Everything binds 127.0.0.1 on free
 * ports; both wrangler process groups and the provider are stopped afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_ISOLATE_CACHE_SECONDS } from '../../src/session/isolate-state.ts';
import { sameOrigin, signIn, startTwoIsolates, stopTwoIsolates, type TwoIsolates } from './two-isolates.ts';

describe('a revocation in one isolate, seen by another (two wrangler dev processes, one KV)', () => {
  let isolates: TwoIsolates | undefined;

  beforeAll(async () => {
    isolates = await startTwoIsolates('kenni-edge-revoke-isolates-');
  });

  afterAll(() => stopTwoIsolates(isolates));

  it('A refuses the revoked cookie at once; B within its isolate cache lifetime', async () => {
    const { a, b } = isolates!;
    const keeper = await signIn(a);
    const revoked = await signIn(a);
    expect((await fetch(`${b.url}/auth/me`, { headers: sameOrigin(b, revoked) })).status).toBe(200);
    expect((await fetch(`${a.url}/auth/me`, { headers: sameOrigin(a, revoked) })).status).toBe(200);

    const response = await fetch(`${a.url}/auth/sessions/revoke`, {
      method: 'POST',
      headers: { ...sameOrigin(a, keeper), 'content-type': 'application/json' },
      body: JSON.stringify({ others: true }),
    });
    const revokedAt = Date.now();
    expect(response.status, await response.clone().text()).toBe(200);
    expect(((await response.json()) as { revoked: number }).revoked).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${a.url}/auth/me`, { headers: sameOrigin(a, revoked) })).status).toBe(401);
    expect((await fetch(`${a.url}/auth/me`, { headers: sameOrigin(a, keeper) })).status).toBe(200);

    let seenAfterMs: number | undefined;
    while (Date.now() - revokedAt < (SESSION_ISOLATE_CACHE_SECONDS + 15) * 1000) {
      const status = (await fetch(`${b.url}/auth/me`, { headers: sameOrigin(b, revoked) })).status;
      if (status === 401) {
        seenAfterMs = Date.now() - revokedAt;
        break;
      }
      expect(status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    console.log(`revocation seen by the other isolate after ${seenAfterMs ?? 'never'} ms`);
    expect(seenAfterMs).toBeDefined();
    expect(seenAfterMs!).toBeLessThanOrEqual((SESSION_ISOLATE_CACHE_SECONDS + 5) * 1000);
  }, 120_000);
});
