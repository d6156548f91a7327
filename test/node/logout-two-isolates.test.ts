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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { signInAtProvider } from '../support/provider-login.ts';

const SESSION_COOKIE = '__Host-kenni-session';
const THORDUR_NATIONAL_ID = '0101302989';

/** One `wrangler dev` process (its own process group, so it can be stopped with its workerd). */
interface Isolate extends ProcessGroup {
  url: string;
}

function startWrangler(options: {
  config: string;
  port: number;
  inspectorPort: number;
  persistTo: string;
  envFile: string;
  issuer: string;
}): Isolate {
  const group = startWranglerDev([
    '--config',
    options.config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--inspector-port',
    String(options.inspectorPort),
    '--persist-to',
    options.persistTo,
    '--env-file',
    options.envFile,
    '--var',
    `KENNI_ISSUER:${options.issuer}`,
  ]);
  return { ...group, url: `http://127.0.0.1:${options.port}` };
}

/** Same-origin request headers for `isolate` (what the app's own pages send), with the session cookie. */
function sameOrigin(isolate: Isolate, sessionId: string, accept = 'application/json'): Record<string, string> {
  return {
    cookie: `${SESSION_COOKIE}=${sessionId}`,
    origin: isolate.url,
    'sec-fetch-site': 'same-origin',
    'sec-fetch-mode': 'cors',
    accept,
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
    headers: {
      cookie: transactionCookie,
      'sec-fetch-mode': 'navigate',
      'sec-fetch-site': 'cross-site',
      accept: 'text/html',
    },
  });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionCookie = callback.headers.getSetCookie().find((line) => line.startsWith(`${SESSION_COOKIE}=`))!;
  return sessionCookie.split(';')[0]!.slice(SESSION_COOKIE.length + 1);
}

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
  let provider: KenniProvider;
  let tempDir: string;
  let a: Isolate;
  let b: Isolate;

  beforeAll(async () => {
    tempDir = mkdtempSync(join(tmpdir(), 'kenni-edge-two-isolates-'));
    const [portA, portB, inspectorA, inspectorB] = await freePorts(4);
    const edgeOrigins = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    provider = await startKenniProvider({
      port: 0,
      extraRedirectUris: edgeOrigins.map((origin) => `${origin}/auth/callback`),
      extraPostLogoutRedirectUris: edgeOrigins.map((origin) => `${origin}/`),
    });
    // One set of secrets for both processes, as one deployment has.
    const envFile = join(tempDir, '.dev.vars');
    writeFileSync(envFile, formatDotenv(await createDevVars()), { mode: 0o600 });
    const persistTo = join(tempDir, 'state');
    const config = withLocks ? join(PROJECT_DIR, 'wrangler.toml') : configWithoutSessionLocks(tempDir);
    // One after the other: two workerd processes opening the shared SQLite files at the same moment can meet SQLITE_BUSY.
    a = startWrangler({
      config,
      port: portA!,
      inspectorPort: inspectorA!,
      persistTo,
      envFile,
      issuer: provider.issuer,
    });
    await waitForOk(`${a.url}/auth/jwks.json`, 120_000, a);
    b = startWrangler({
      config,
      port: portB!,
      inspectorPort: inspectorB!,
      persistTo,
      envFile,
      issuer: provider.issuer,
    });
    await waitForOk(`${b.url}/auth/jwks.json`, 120_000, b);
  });

  afterAll(async () => {
    await Promise.allSettled([a && stopProcessGroup(a), b && stopProcessGroup(b)]);
    await provider?.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  });

  it('keeps the session dead in both after B, still holding it, forces a refresh', async () => {
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
