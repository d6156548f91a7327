/**
 * Session control tests: browsers of one edge (one isolate, one KV), logins
 * with chosen `sub`, `sid`, kennitala and `User-Agent`, and KV listings.
 */
import { env } from 'cloudflare:test';
import type { Env } from '../../src/config.ts';
import type { TestEdge } from '../support/edge.ts';
import { CookieJar } from '../support/provider-login.ts';
import type { Claims, TestKey } from '../support/token-factory.ts';
import { fileSigningKey, logInAt, type ScriptedLogin } from '../support/scripted-login.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';

export const bindings = env as unknown as Env;

/** Another browser (its own cookie jar) on the same edge: same `env`, so the same isolate state. */
export function browserOf(edge: TestEdge): TestEdge {
  const jar = new CookieJar();
  return {
    env: edge.env,
    jar,
    fetch: (path, init = {}) => edge.fetch(path, { ...init, jar: init.jar ?? jar }),
  };
}

/** Random text for subjects, sids and tokens, so tests never share KV entries. */
export function randomText(prefix: string): string {
  return `${prefix}${[...crypto.getRandomValues(new Uint8Array(12))].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** A random ten-digit kennitala-shaped number (a person's: day 10-28). */
export function randomNationalId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return `${10 + (bytes[0]! % 19)}${[...bytes.slice(1)].map((byte) => String(byte % 10)).join('')}`;
}

/** A login in `browser` with these claims and `User-Agent`; the refresh token is random. */
export async function logIn(
  browser: TestEdge,
  provider: ScriptedProvider,
  options: { sub: string; sid?: string; nationalId?: string; userAgent?: string; claims?: Claims; key?: TestKey },
): Promise<ScriptedLogin & { refreshToken: string }> {
  const refreshToken = randomText('refresh-');
  const login = await logInAt(browser, provider, options.key ?? (await fileSigningKey()), {
    code: randomText('code-'),
    claims: {
      sub: options.sub,
      ...(options.sid ? { sid: options.sid } : {}),
      national_id: options.nationalId ?? randomNationalId(),
      ...options.claims,
    },
    token: { access_token: randomText('access-'), refresh_token: refreshToken, expires_in: 300 },
    callbackHeaders: { 'user-agent': options.userAgent ?? FIREFOX_LINUX },
  });
  return { ...login, refreshToken };
}

export const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** Every KV entry (name, metadata, expiration) under `prefix`. */
export async function listKv(
  prefix: string,
): Promise<Array<{ name: string; metadata: unknown; expiration: number | undefined }>> {
  const entries: Array<{ name: string; metadata: unknown; expiration: number | undefined }> = [];
  let cursor: string | undefined;
  do {
    const page = await bindings.SESSIONS.list({ prefix, ...(cursor ? { cursor } : {}) });
    for (const key of page.keys) entries.push({ name: key.name, metadata: key.metadata, expiration: key.expiration });
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return entries;
}
