/**
 * Logout wins across isolates (issue #8 item 3): two `wrangler dev` processes
 * share one KV (the same `--persist-to` directory) and the same secrets, as two
 * isolates of one deployment do. Isolate A signs in at the real local provider
 * (dev/provider.ts, started here); isolate B loads the session (so it holds it
 * in its own isolate cache); A logs out; B then forces a refresh. The session
 * must stay dead in both: B's refresh answers 401 `session_ended`, and A and B
 * answer 401 for it afterwards.
 *
 * Runs in Node (the `node` vitest project). Everything binds 127.0.0.1 on free
 * ports; both wrangler process groups and the provider are stopped afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_DIR } from '../../dev/processes.ts';
import { sameOrigin, signIn, startTwoIsolates, stopTwoIsolates, type TwoIsolates } from './two-isolates.ts';

/**
 * wrangler.toml without the `SESSION_LOCKS` Durable Object (written to `dir`,
 * `main` made absolute), so refreshes run in each isolate on their own.
 */
function configWithoutSessionLocks(dir: string): string {
  const project = readFileSync(join(PROJECT_DIR, 'wrangler.toml'), 'utf8');
  const withoutLocks = project
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(PROJECT_DIR, 'src', 'index.ts'))}`)
    .replace(/^\[\[durable_objects\.bindings\]\][\s\S]*?(?=^\[vars\])/m, '');
  expect(withoutLocks).not.toContain('SessionLock');
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, withoutLocks);
  return path;
}

describe.each([
  ['with SESSION_LOCKS (the project wrangler.toml)', true],
  ['without SESSION_LOCKS', false],
])('logout in one isolate, refresh in another (two wrangler dev processes, one KV), %s', (_label, withLocks) => {
  let isolates: TwoIsolates | undefined;

  beforeAll(async () => {
    isolates = await startTwoIsolates(
      'kenni-edge-two-isolates-',
      withLocks ? undefined : (tempDir) => configWithoutSessionLocks(tempDir),
    );
  });

  afterAll(() => stopTwoIsolates(isolates));

  it('keeps the session dead in both after B, still holding it, forces a refresh', async () => {
    const { a, b } = isolates!;
    const sessionId = await signIn(a);
    // B reads the session from the shared KV and keeps it in its isolate cache.
    expect((await fetch(`${b.url}/auth/me`, { headers: sameOrigin(b, sessionId) })).status).toBe(200);
    expect((await fetch(`${a.url}/auth/me`, { headers: sameOrigin(a, sessionId) })).status).toBe(200);

    const logout = await fetch(`${a.url}/auth/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: sameOrigin(a, sessionId, 'text/html'),
    });
    expect(logout.status).toBe(302);
    expect((await fetch(`${a.url}/auth/me`, { headers: sameOrigin(a, sessionId) })).status).toBe(401);

    const refresh = await fetch(`${b.url}/auth/refresh`, { method: 'POST', headers: sameOrigin(b, sessionId) });
    expect(refresh.status, await refresh.clone().text()).toBe(401);
    expect(await refresh.json()).toMatchObject({ code: 'session_ended' });

    for (const isolate of [a, b]) {
      const me = await fetch(`${isolate.url}/auth/me`, { headers: sameOrigin(isolate, sessionId) });
      expect(me.status, `${isolate.url}/auth/me`).toBe(401);
      const again = await fetch(`${isolate.url}/auth/refresh`, {
        method: 'POST',
        headers: sameOrigin(isolate, sessionId),
      });
      expect(again.status, `${isolate.url}/auth/refresh`).toBe(401);
    }
  });
});
