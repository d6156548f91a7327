/**
 * The set-up the two-isolates Node tests share: two `wrangler dev` processes
 * on one KV (the same `--persist-to`) and one set of secrets, as two isolates
 * of one deployment have, against the real local provider; and signing in and
 * sending same-origin requests through either.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createDevVars, formatDotenv } from '../../dev/dev-vars.ts';
import {
  freePorts,
  PROJECT_DIR,
  startWranglerOn,
  stopProcessGroup,
  waitForOk,
  type WranglerDev,
} from '../../dev/processes.ts';
import { startKenniProvider, type KenniProvider } from '../../dev/provider.ts';
import { signInAtProvider } from '../support/provider-login.ts';

/** The session cookie's name. */
export const SESSION_COOKIE = '__Host-kenni-session';
const THORDUR_NATIONAL_ID = '0101302989';

/** One `wrangler dev` process (its own process group, so it can be stopped with its workerd). */
export type Isolate = WranglerDev;

/** Two isolates of one deployment, the provider they sign in at, and the temporary directory they keep state in. */
export interface TwoIsolates {
  provider: KenniProvider;
  tempDir: string;
  a: Isolate;
  b: Isolate;
}

/**
 * Starts the provider and two `wrangler dev` processes sharing state and
 * secrets; `config` picks the wrangler.toml (given the temporary directory).
 * On failure it stops what it started before rethrowing.
 */
export async function startTwoIsolates(
  tempPrefix: string,
  config: (tempDir: string) => string = () => join(PROJECT_DIR, 'wrangler.toml'),
): Promise<TwoIsolates> {
  const started: Partial<TwoIsolates> = { tempDir: mkdtempSync(join(tmpdir(), tempPrefix)) };
  try {
    const tempDir = started.tempDir!;
    const [portA, portB, inspectorA, inspectorB] = await freePorts(4);
    const edgeOrigins = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    const provider = (started.provider = await startKenniProvider({
      port: 0,
      extraRedirectUris: edgeOrigins.map((origin) => `${origin}/auth/callback`),
      extraPostLogoutRedirectUris: edgeOrigins.map((origin) => `${origin}/`),
    }));
    // One set of secrets for both processes, as one deployment has.
    const envFile = join(tempDir, '.dev.vars');
    writeFileSync(envFile, formatDotenv(await createDevVars()), { mode: 0o600 });
    const shared = {
      config: config(tempDir),
      persistTo: join(tempDir, 'state'),
      envFile,
      vars: { KENNI_ISSUER: provider.issuer },
    };
    // One after the other: two workerd processes opening the shared SQLite files at the same moment can meet SQLITE_BUSY.
    const a = (started.a = startWranglerOn({ ...shared, port: portA!, inspectorPort: inspectorA! }));
    await waitForOk(`${a.url}/auth/jwks.json`, 120_000, a);
    const b = (started.b = startWranglerOn({ ...shared, port: portB!, inspectorPort: inspectorB! }));
    await waitForOk(`${b.url}/auth/jwks.json`, 120_000, b);
    return { provider, tempDir, a, b };
  } catch (error) {
    await stopTwoIsolates(started);
    throw error;
  }
}

/** Stops whatever of {@link startTwoIsolates} is running and removes its directory. */
export async function stopTwoIsolates(isolates: Partial<TwoIsolates> | undefined): Promise<void> {
  if (!isolates) return;
  const { a, b, provider, tempDir } = isolates;
  await Promise.allSettled([a && stopProcessGroup(a), b && stopProcessGroup(b)]);
  await provider?.close();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}

/** Same-origin request headers for `isolate` (what the app's own pages send), with the session cookie. */
export function sameOrigin(isolate: Isolate, sessionId: string, accept = 'application/json'): Record<string, string> {
  return {
    cookie: `${SESSION_COOKIE}=${sessionId}`,
    origin: isolate.url,
    'sec-fetch-site': 'same-origin',
    'sec-fetch-mode': 'cors',
    accept,
  };
}

/** Signs in through `isolate` at the real provider; returns the session id from the callback's cookie. */
export async function signIn(isolate: Isolate): Promise<string> {
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
