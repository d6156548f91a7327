/**
 * `GET`/`POST /auth/logout`: ends the session here (KV record, lock and
 * cookie), revokes its refresh token at the provider (RFC 7009), and sends the
 * browser to the provider's logout (RP-initiated logout with `id_token_hint`,
 * `post_logout_redirect_uri` and `client_id`). A cross-site request cannot log
 * a user out: it gets a confirmation page instead. With `everywhere=1` (query
 * or form field) every other session of the person at the keyboard ends too.
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html
 */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { AppError } from '../errors.ts';
import { logEvent } from '../log.ts';
import { codeLine, escapeHtml, renderPage } from '../pages/html.ts';
import { chooseLocale, pageHeaders, type Locale } from '../pages/locale.ts';
import { UI_TEXT } from '../pages/ui-text.ts';
import { loadProvider } from '../provider/index.ts';
import { expireCookie, readCookie, SESSION_COOKIE } from '../session/cookies.ts';
import { endSession } from '../session/end.ts';
import { endSessionsOfSubject } from '../session/indexes.ts';
import { loadSession, readSessionTokens } from '../session/store.ts';
import { isCrossSiteRequest, isSameOriginNavigation } from '../request-kind.ts';
import { personOf, readTypedBody, waitUntilOf } from './session-person.ts';

/** Handles `GET` and `POST /auth/logout`. */
export async function handleLogout(c: Context<AppEnv>): Promise<Response> {
  const config = c.get('config');
  const url = new URL(c.req.url);
  // POST: refused only when the browser marks it cross-site. GET rides on links from anywhere, so it must prove it is ours.
  const refused = c.req.method === 'GET' ? !isSameOriginNavigation(c.req.raw) : isCrossSiteRequest(c.req.raw);
  if (refused) {
    logEvent('request_refused', { reason: 'cross_site_logout', path: url.pathname, method: c.req.method });
    const locale = chooseLocale(c.req.raw, config);
    const headers = { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...pageHeaders(locale) };
    return new Response(confirmationPage(locale), { status: 403, headers });
  }

  // Not loadRequestSession: moving the idle clock here would race the delete (a put landing after it revives the session).
  const session = await loadSession(config, c.env.SESSIONS, readCookie(c.req.header('cookie'), SESSION_COOKIE));
  let idToken: string | undefined;
  if (session) {
    const tokens = await readSessionTokens(config, session);
    idToken = tokens?.id_token;
    const person = (await wantsEverywhere(c.req.raw, url)) ? personOf(session) : undefined;
    const others =
      person === undefined
        ? 0
        : await endSessionsOfSubject(config, c.env, person, {
            except: session.keyHash,
            ownOnly: true,
            waitUntil: waitUntilOf(c),
            reason: 'logged_out_everywhere',
          });
    await endSession(config, c.env, session, tokens, waitUntilOf(c));
    logEvent('logged_out', { session: session.keyHash.slice(0, 12), n_other_sessions: others });
  }

  let location = '/';
  try {
    const postLogoutRedirectUri = config.postLogoutRedirectUri ?? `${url.origin}/`;
    location =
      (await loadProvider(config).endSessionUrl({ ...(idToken ? { idToken } : {}), postLogoutRedirectUri }))?.href ??
      '/';
  } catch (error) {
    // The provider being down must not keep anyone signed in here: the local session is already gone.
    if (!(error instanceof AppError)) throw error;
  }
  const headers = new Headers({ location, 'cache-control': 'no-store' });
  headers.append('set-cookie', expireCookie(SESSION_COOKIE));
  return new Response(null, { status: 302, headers });
}

/** `everywhere=1` in the query, or in the form body of a POST (a sign-out-everywhere button). */
async function wantsEverywhere(request: Request, url: URL): Promise<boolean> {
  if (url.searchParams.get('everywhere') === '1') return true;
  if (request.method !== 'POST') return false;
  const text = await readTypedBody(request, 'application/x-www-form-urlencoded', 1024);
  return text !== undefined && new URLSearchParams(text).get('everywhere') === '1';
}

/** The page a cross-site logout gets: the same sign-out, one same-site button press away. */
function confirmationPage(locale: Locale): string {
  const text = UI_TEXT[locale].logout;
  return renderPage(
    locale,
    text.title,
    `<p>${escapeHtml(text.lead)}</p><form method="post" action="/auth/logout"><button type="submit">${escapeHtml(text.signOut)}</button></form>` +
      codeLine(locale, 'cross_site_request', 403),
  );
}
