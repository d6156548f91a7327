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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevVars, formatDotenv } from '../../dev/dev-vars.ts';
import {
  freePorts,
  PROJECT_DIR,
  startWranglerDev,
  stopProcessGroup,
  waitForOk,
  type ProcessGroup,
} from '../../dev/processes.ts';
import { startKenniProvider, type KenniProvider } from '../../dev/provider.ts';
import { SESSION_ISOLATE_CACHE_SECONDS } from '../../src/session/isolate-state.ts';
import { signInAtProvider } from '../support/provider-login.ts';

const SESSION_COOKIE = '__Host-kenni-session';
const THORDUR_NATIONAL_ID = '0101302989';

interface Isolate extends ProcessGroup {
  url: string;
}

function startWrangler(port: number, inspectorPort: number, persistTo: string, envFile: string, issuer: string) {
  const group = startWranglerDev([
    '--config',
    join(PROJECT_DIR, 'wrangler.toml'),
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    persistTo,
    '--env-file',
    envFile,
    '--var',
    `KENNI_ISSUER:${issuer}`,
  ]);
  return { ...group, url: `http://127.0.0.1:${port}` };
}

/** Same-origin request headers for `isolate` (what the app's own pages send), with the session cookie. */
function sameOrigin(isolate: Isolate, sessionId: string): Record<string, string> {
  return {
    cookie: `${SESSION_COOKIE}=${sessionId}`,
    origin: isolate.url,
    'sec-fetch-site': 'same-origin',
    'sec-fetch-mode': 'cors',
    accept: 'application/json',
  };
}

/** Signs in through `isolate` at the real provider; returns the session id from the callback's cookie. */
async function signIn(isolate: Isolate): Promise<string> {
  const login = await fetch(`${isolate.url}/auth/login`, {
    redirect: 'manual',
    headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'none', accept: 'text/html' },
  });
  expect(login.status).toBe(302);
  const transactionCookie = login.headers
    .getSetCookie()
    .find((line) => line.startsWith('__Host-kenni-login-'))!
    .split(';')[0]!;
  const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: THORDUR_NATIONAL_ID });
  const callback = await fetch(callbackUrl, {
    redirect: 'manual',
    headers: { cookie: transactionCookie, 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'cross-site' },
  });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionCookie = callback.headers.getSetCookie().find((line) => line.startsWith(`${SESSION_COOKIE}=`))!;
  return sessionCookie.split(';')[0]!.slice(SESSION_COOKIE.length + 1);
}

describe('a revocation in one isolate, seen by another (two wrangler dev processes, one KV)', () => {
  let provider: KenniProvider;
  let tempDir: string;
  let a: Isolate;
  let b: Isolate;

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'kenni-edge-revoke-isolates-'));
    const [portA, portB, inspectorA, inspectorB] = await freePorts(4);
    const edgeOrigins = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    provider = await startKenniProvider({
      port: 0,
      extraRedirectUris: edgeOrigins.map((origin) => `${origin}/auth/callback`),
      extraPostLogoutRedirectUris: edgeOrigins.map((origin) => `${origin}/`),
    });
    const envFile = join(tempDir, '.dev.vars');
    writeFileSync(envFile, formatDotenv(await createDevVars()), { mode: 0o600 });
    const persistTo = join(tempDir, 'state');
    // One after the other: two workerd processes opening the shared SQLite files at the same moment can meet SQLITE_BUSY.
    a = startWrangler(portA!, inspectorA!, persistTo, envFile, provider.issuer);
    await waitForOk(`${a.url}/auth/jwks.json`, 120_000, a);
    b = startWrangler(portB!, inspectorB!, persistTo, envFile, provider.issuer);
    await waitForOk(`${b.url}/auth/jwks.json`, 120_000, b);
  });

  afterAll(async () => {
    await Promise.allSettled([a && stopProcessGroup(a), b && stopProcessGroup(b)]);
    await provider?.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  });

  it('A refuses the revoked cookie at once; B within its isolate cache lifetime', async () => {
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
