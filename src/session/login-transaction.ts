/**
 * Login transactions: state, nonce, PKCE verifier and return path, sealed with
 * AES-GCM into a short-lived cookie named after the state, so two tabs can log in
 * at once. Single use: the cookie is cleared by the callback, and a used
 * state is remembered (in the isolate at once, in KV once the provider accepted
 * its code) so replaying it, even with the original cookie, fails.
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.7.1
 */
import type { KenniEdgeConfig } from '../config.ts';
import { AppError } from '../errors.ts';
import { nowSeconds } from '../time.ts';
import { TtlMap } from '../util/ttl-map.ts';
import { expireCookie, LOGIN_COOKIE_PREFIX, readCookie, readCookiesWithPrefix, serializeCookie } from './cookies.ts';
import {
  base64UrlEncode,
  deriveSealKey,
  randomId,
  seal,
  sha256Hex,
  timingSafeEqual,
  unsealWithSecrets,
  type SealSecrets,
} from './seal.ts';

/** How long a login may take, seconds (contract: at most 10 minutes). */
export const LOGIN_TRANSACTION_TTL = 600;
/** At most this many logins may be pending in one browser; older ones are dropped. */
export const MAX_PENDING_LOGINS = 3;

/** What the edge remembers between `/auth/login` and `/auth/callback`. */
export interface LoginTransaction {
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  redirect_uri: string;
  created_at: number;
  /** The `prompt` sent to the provider, if any (a refusal after `prompt=delegation` is about delegations). */
  prompt?: string;
  /** The `max_age` sent to the provider (step-up): the callback refuses an older `auth_time`. */
  max_age?: number;
}

/** A new login transaction with its cookie and the cookies that clear older pending logins. */
export interface StartedLogin {
  transaction: LoginTransaction;
  codeChallenge: string;
  setCookies: string[];
}

/** Creates a login transaction with fresh state, nonce and PKCE verifier, sealed into its cookie. */
export async function startLoginTransaction(
  config: KenniEdgeConfig,
  params: { returnTo: string; redirectUri: string; cookieHeader: string | null; prompt?: string; maxAge?: number },
): Promise<StartedLogin> {
  const transaction: LoginTransaction = {
    // 32 random bytes each, base64url (RFC 7636 §4.1: a 43-character verifier).
    state: randomId(),
    nonce: randomId(),
    code_verifier: randomId(),
    return_to: params.returnTo,
    redirect_uri: params.redirectUri,
    created_at: nowSeconds(),
    ...(params.prompt ? { prompt: params.prompt } : {}),
    ...(params.maxAge !== undefined ? { max_age: params.maxAge } : {}),
  };
  const key = await deriveSealKey(config.sessionSecret, 'login-transaction');
  const name = cookieNameFor(transaction.state);
  const setCookies = [serializeCookie(name, await seal(key, transaction, name), LOGIN_TRANSACTION_TTL)];
  setCookies.push(...(await expireSurplusLogins(config, params.cookieHeader)));
  return { transaction, codeChallenge: await pkceChallenge(transaction.code_verifier), setCookies };
}

/**
 * The S256 code challenge: base64url of the verifier's SHA-256.
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.2
 */
async function pkceChallenge(verifier: string): Promise<string> {
  return base64UrlEncode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/**
 * Finds and opens the transaction for the callback's `state`. Throws
 * `login_state_missing` / `login_state_invalid` / `login_expired` (400).
 * The returned cookie clears the transaction whatever happens next.
 */
export async function openLoginTransaction(
  config: KenniEdgeConfig,
  params: { state: string | null; cookieHeader: string | null },
): Promise<{ transaction: LoginTransaction; clearCookie: string }> {
  const state = params.state;
  if (!state || state.length > 512 || !/^[A-Za-z0-9_-]+$/.test(state)) {
    throw new AppError('login_state_invalid', 'The sign-in response carried no valid state. Please start again.', {
      retryHref: '/auth/login',
    });
  }
  const name = cookieNameFor(state);
  const sealed = readCookie(params.cookieHeader, name);
  if (!sealed) {
    throw new AppError(
      'login_state_missing',
      'This sign-in was not started in this browser, or it has already been completed. Please start again.',
      { retryHref: '/auth/login' },
    );
  }
  // A login started before a SESSION_SECRET rotation completes under SESSION_SECRET_PREVIOUS.
  const transaction = await unsealWithSecrets<LoginTransaction>(config, 'login-transaction', sealed, name);
  const clearCookie = expireCookie(name);
  if (!transaction || !timingSafeEqual(transaction.state, state)) {
    const error = new AppError('login_state_invalid', 'The sign-in state did not match. Please start again.', {
      retryHref: '/auth/login',
    });
    // An unreadable (tampered) cookie is of no use to anyone: clear it so it cannot linger.
    if (!transaction) error.setCookies.push(clearCookie);
    throw error;
  }
  if (nowSeconds() - transaction.created_at > LOGIN_TRANSACTION_TTL || transaction.created_at > nowSeconds() + 60) {
    const error = new AppError('login_expired', 'The sign-in took too long and expired. Please start again.', {
      retryHref: '/auth/login',
    });
    error.setCookies.push(clearCookie);
    throw error;
  }
  return { transaction, clearCookie };
}

/** Most used states one isolate remembers; past it the oldest go first (the KV marker still refuses them). */
export const MAX_USED_STATES_IN_ISOLATE = 10_000;

/** States used in this isolate, per configuration (a fresh env is a fresh isolate), each remembered for LOGIN_TRANSACTION_TTL. */
const usedStates = new WeakMap<KenniEdgeConfig, TtlMap<string, true>>();

/** The states used in this isolate for `config` (tests: the set stays bounded). */
export function usedLoginStates(config: KenniEdgeConfig): TtlMap<string, true> {
  let used = usedStates.get(config);
  if (!used) {
    // One second more than the transaction lives: a state is refused through its last second too.
    used = new TtlMap({ maxEntries: MAX_USED_STATES_IN_ISOLATE, ttlSeconds: LOGIN_TRANSACTION_TTL + 1 });
    usedStates.set(config, used);
  }
  return used;
}

/**
 * Claims a state for the one callback that may use it. Throws `login_replayed`
 * (400) when it was used before, in this isolate or (as far as KV has
 * propagated) anywhere. Reads KV but never writes: a callback that goes no
 * further than this costs no KV write (see {@link recordLoginState}).
 */
export async function claimLoginState(config: KenniEdgeConfig, kv: KVNamespace, state: string): Promise<void> {
  const key = await loginStateKey(state);
  const used = usedLoginStates(config);
  if (used.has(key) || (await kv.get(key)) !== null) {
    throw new AppError('login_replayed', 'This sign-in response has already been used. Please start again.', {
      retryHref: '/auth/login',
    });
  }
  used.set(key, true);
}

/**
 * Records in KV that a state was used, so other isolates refuse it too. Called
 * only after the provider accepted the code: no request without a valid
 * authorization response makes a KV write.
 */
export async function recordLoginState(kv: KVNamespace, state: string): Promise<void> {
  await kv.put(await loginStateKey(state), '1', { expirationTtl: LOGIN_TRANSACTION_TTL + 60 });
}

async function loginStateKey(state: string): Promise<string> {
  return `login-state:${await sha256Hex(state)}`;
}

function cookieNameFor(state: string): string {
  // 22 base64url characters (132 bits) tell concurrent logins apart; the full state is checked inside the seal.
  return `${LOGIN_COOKIE_PREFIX}${state.slice(0, 22)}`;
}

/** Keeps at most MAX_PENDING_LOGINS - 1 older pending logins (the new one makes the maximum). */
async function expireSurplusLogins(secrets: SealSecrets, cookieHeader: string | null): Promise<string[]> {
  const pending = readCookiesWithPrefix(cookieHeader, LOGIN_COOKIE_PREFIX);
  if (pending.length < MAX_PENDING_LOGINS) return [];
  const dated = await Promise.all(
    pending.map(async ([name, value], index) => ({
      name,
      index,
      createdAt:
        (await unsealWithSecrets<LoginTransaction>(secrets, 'login-transaction', value, name))?.created_at ?? 0,
    })),
  );
  // created_at has one-second resolution: on a tie the later cookie in the header is the newer one (RFC 6265 §5.4 orders by creation time).
  dated.sort((a, b) => b.createdAt - a.createdAt || b.index - a.index);
  return dated.slice(MAX_PENDING_LOGINS - 1).map(({ name }) => expireCookie(name));
}
