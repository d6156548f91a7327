/**
 * `GET /auth/login`: starts a login with state, nonce and PKCE S256, and
 * redirects to the provider's authorization endpoint.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 */
import type { Context } from 'hono';
import { MAX_AUTH_AGE_LIMIT } from '../access/rules.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { loadProvider } from '../provider/index.ts';
import { startLoginTransaction } from '../session/login-transaction.ts';
import { sanitizeReturnTo } from '../session/return-to.ts';

/** Values of `prompt` passed through: those Kenni knows (it adds `delegation` and `delegation_admin`; it has no `select_account`). */
const PROMPT_VALUES = new Set(['none', 'login', 'consent', 'delegation', 'delegation_admin']);

/** Handles `GET /auth/login`. */
export async function handleLogin(c: Context<AppEnv>): Promise<Response> {
  try {
    return await startLogin(c);
  } catch (error) {
    if (error instanceof AppError)
      logEvent('login_failed', { reason: error.reason, status: error.status, path: '/auth/login' });
    throw error;
  }
}

async function startLogin(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const url = new URL(c.req.url);
  const provider = loadProvider(config);
  await provider.discovery(); // a provider that is down fails the login before any cookie is set
  const redirectUri = config.redirectUri ?? `${url.origin}/auth/callback`;
  const prompt = readPrompt(url.searchParams.get('prompt'));
  const maxAge = readMaxAge(url.searchParams.get('max_age'));
  const { transaction, codeChallenge, setCookies } = await startLoginTransaction(config, {
    returnTo: sanitizeReturnTo(url.searchParams.get('return_to')),
    ...(prompt ? { prompt } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    redirectUri,
    cookieHeader: c.req.header('cookie') ?? null,
  });
  const authorizationUrl = await provider.authorizationUrl({
    redirectUri,
    state: transaction.state,
    nonce: transaction.nonce,
    codeChallenge,
    prompt,
    ...(maxAge !== undefined ? { maxAge } : {}),
    uiLocales: readUiLocales(url.searchParams.get('ui_locales')) ?? config.uiLocales,
  });
  logEvent('login_started', { path: url.pathname });
  const headers = new Headers({ location: authorizationUrl.href, 'cache-control': 'no-store' });
  for (const cookie of setCookies) headers.append('set-cookie', cookie);
  return new Response(null, { status: 302, headers });
}

/** `prompt` is a space-separated list of known values, each passed once; anything else is dropped. */
function readPrompt(raw: string | null): string | undefined {
  if (!raw) return undefined;
  // A Set: a value repeated 10,000 times must not build a 100 KB authorization URL.
  const values = [...new Set(raw.split(' '))].filter((value) => PROMPT_VALUES.has(value));
  return values.length > 0 ? values.join(' ') : undefined;
}

/**
 * `max_age` (step-up): whole seconds from 0 to one year, digits only; anything
 * else is dropped like an unknown `prompt` (a plain login; a step-up route then asks again).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 */
function readMaxAge(raw: string | null): number | undefined {
  if (!raw || !/^[0-9]{1,9}$/.test(raw)) return undefined;
  const seconds = Number(raw);
  return seconds <= MAX_AUTH_AGE_LIMIT ? seconds : undefined;
}

/** `ui_locales` is a space-separated list of BCP 47 tags. */
function readUiLocales(raw: string | null): string | undefined {
  if (!raw || raw.length > 64) return undefined;
  return /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*( [A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*)*$/.test(raw) ? raw : undefined;
}
