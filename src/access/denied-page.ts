/**
 * The 403 `access_denied` page for a page navigation, in the reader's
 * language: who is signed in (and for whom, when delegated), a sign-out form
 * and a link to choose another delegation. Never a redirect: a signed-in
 * identity that fails the rules would only be sent back here.
 */
import { codeLine, escapeHtml, renderPage } from '../pages/html.ts';
import type { Locale } from '../pages/locale.ts';
import { UI_TEXT } from '../pages/ui-text.ts';
import type { Principal } from '../pipeline/principal.ts';

/**
 * Renders the page in `locale`. `returnTo` is the refused request's path and
 * query (the delegation switch returns there); no national id is shown or put in a URL.
 */
export function renderAccessDeniedPage(principal: Principal, returnTo: string, locale: Locale): string {
  const text = UI_TEXT[locale].denied;
  const subjectName = typeof principal.claims.name === 'string' ? principal.claims.name : undefined;
  const who = (name: string | undefined) => (name ? `<strong>${escapeHtml(name)}</strong>` : escapeHtml(text.unnamed));
  // Names go in after the sentence is escaped, so a name can never open a tag or a placeholder.
  const signedIn = principal.actor
    ? escapeHtml(text.signedInAsFor)
        .replace('{who}', () => who(principal.actor!.name))
        .replace('{for}', () => who(subjectName))
    : escapeHtml(text.signedInAs).replace('{who}', () => who(subjectName));
  const switchHref = `/auth/login?prompt=delegation&return_to=${encodeURIComponent(returnTo)}`;
  return renderPage(
    locale,
    text.title,
    `<p>${escapeHtml(text.lead)}</p><p>${signedIn}</p>` +
      `<p><a href="${escapeHtml(switchHref)}">${escapeHtml(text.switchDelegation)}</a></p>` +
      `<form method="post" action="/auth/logout"><button type="submit">${escapeHtml(text.signOut)}</button></form>` +
      codeLine(locale, 'access_denied', 403),
  );
}
