/**
 * `GET /auth/callback`: completes a login. Checks the transaction (single use,
 * bound to this browser), the authorization response (`state`, `iss`, `code`),
 * exchanges the code with the PKCE verifier, validates the ID token, then
 * records the used state, creates a new session and redirects to the saved
 * return path. Nothing is written to KV before the provider accepted the code.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthResponseValidation
 */
import type { Context } from 'hono';
import { checkLoginAge } from '../access/step-up.ts';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { IdentityClaimsError, readIdentity } from '../identity/claims.ts';
import { logEvent } from '../log.ts';
import { loadProvider } from '../provider/index.ts';
import { readCookie, serializeCookie, SESSION_COOKIE } from '../session/cookies.ts';
import {
  claimLoginState,
  openLoginTransaction,
  recordLoginState,
  type LoginTransaction,
} from '../session/login-transaction.ts';
import { createSession, deleteSession, sessionKeyHash } from '../session/store.ts';

/** Handles `GET /auth/callback`. */
export async function handleCallback(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const url = new URL(c.req.url);
  const cookieHeader = c.req.header('cookie') ?? null;
  let clearTransactionCookie: string | undefined;
  try {
    const opened = await openLoginTransaction(config, { state: url.searchParams.get('state'), cookieHeader });
    clearTransactionCookie = opened.clearCookie;
    const { transaction } = opened;
    const provider = loadProvider(config);
    // The whole authorization response (state, iss, code) is checked before anything is recorded.
    const callbackParameters = await provider
      .validateCallback(url, transaction.state)
      .catch((error: unknown) => Promise.reject(delegationRefusal(error, transaction)));
    await claimLoginState(config, c.env.SESSIONS, transaction.state);
    const { claims, tokens } = await provider.exchangeCode({
      callbackParameters,
      redirectUri: transaction.redirect_uri,
      codeVerifier: transaction.code_verifier,
      nonce: transaction.nonce,
    });
    // The first KV write of a callback: only once the provider accepted the code.
    await recordLoginState(c.env.SESSIONS, transaction.state);
    checkLoginIdentity(claims);
    // Step-up: a provider that ignored max_age must not satisfy the route that asked for it.
    if (transaction.max_age !== undefined)
      checkLoginAge(claims.auth_time, transaction.max_age, config.clockTolerance, transaction.return_to);

    // A login always gets a new session id; the old session (if any) is ended.
    const previousId = readCookie(cookieHeader, SESSION_COOKIE);
    if (previousId && /^[A-Za-z0-9_-]{43,128}$/.test(previousId)) {
      const keyHash = await sessionKeyHash(previousId);
      await deleteSession(config, c.env.SESSIONS, { id: previousId, keyHash });
    }
    const session = await createSession(config, c.env.SESSIONS, {
      sub: claims.sub,
      claims,
      tokens,
      userAgent: c.req.header('user-agent'),
    });
    logEvent('login_succeeded', { session: session.keyHash.slice(0, 12) });

    const headers = new Headers({ location: transaction.return_to, 'cache-control': 'no-store' });
    headers.append('set-cookie', serializeCookie(SESSION_COOKIE, session.id, config.sessionTtl));
    headers.append('set-cookie', clearTransactionCookie);
    return new Response(null, { status: 302, headers });
  } catch (error) {
    if (error instanceof AppError) {
      logEvent('login_failed', { reason: error.reason, status: error.status });
      // Whatever went wrong, this login transaction is spent: clear its cookie so they never pile up.
      if (clearTransactionCookie) error.setCookies.push(clearTransactionCookie);
    }
    throw error;
  }
}

/** Refuses a login whose ID token names the acting person in a malformed way: no session is half-right. */
function checkLoginIdentity(claims: Record<string, unknown>): void {
  try {
    readIdentity(claims, String(claims.sub));
  } catch (error) {
    if (!(error instanceof IdentityClaimsError)) throw error;
    throw new AppError(
      'id_token_invalid',
      'The sign-in service named the person acting for you in a form this site does not accept.',
      { reason: error.reason, retryHref: '/auth/login' },
    );
  }
}

/**
 * A provider `access_denied` about delegations (its description says so, or the
 * login asked for `prompt=delegation`) as a page of its own: no delegation was
 * found or access was refused, with a way back (sign in as oneself, or go back).
 * The provider's own text is never shown. Any other error passes unchanged.
 */
function delegationRefusal(error: unknown, transaction: LoginTransaction): unknown {
  if (!(error instanceof AppError) || error.code !== 'access_denied') return error;
  const askedForDelegation = (transaction.prompt ?? '').split(' ').some((value) => value.startsWith('delegation'));
  if (error.reason !== 'no_delegations' && !askedForDelegation) return error;
  return new AppError(
    'delegation_denied',
    'No delegation was found for you, or access was refused. You can sign in as yourself instead. ' +
      'Ekkert umboð fannst fyrir þig, eða aðgangi var hafnað. Þú getur skráð þig inn sem þú sjálf(ur).',
    {
      oauthError: 'access_denied',
      reason: 'no_delegations',
      retryHref: `/auth/login?return_to=${encodeURIComponent(transaction.return_to)}`,
      pageLinks: { retryLabel: 'sign_in_as_yourself', backHref: transaction.return_to },
    },
  );
}
