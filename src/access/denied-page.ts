/**
 * The 403 `access_denied` page for a page navigation, in Icelandic and
 * English: who is signed in (and for whom, when delegated), a sign-out form
 * and a link to choose another delegation. Never a redirect: a signed-in
 * identity that fails the rules would only be sent back here.
 */
import { escapeHtml } from '../errors.ts';
import type { Principal } from '../pipeline/principal.ts';

/**
 * Renders the page. `returnTo` is the refused request's path and query (the
 * delegation switch returns there); no national id is shown or put in a URL.
 */
export function renderAccessDeniedPage(principal: Principal, returnTo: string): string {
  const subjectName = typeof principal.claims.name === 'string' ? principal.claims.name : undefined;
  const who = (name: string | undefined) => (name ? `<strong>${escapeHtml(name)}</strong>` : 'an unnamed identity');
  const whoIs = (name: string | undefined) => (name ? `<strong>${escapeHtml(name)}</strong>` : 'ónefnd auðkenni');
  const signedIn = principal.actor
    ? `<p>Þú ert skráð(ur) inn sem ${whoIs(principal.actor.name)} fyrir hönd ${whoIs(subjectName)}.</p><p lang="en">You are signed in as ${who(principal.actor.name)} on behalf of ${who(subjectName)}.</p>`
    : `<p>Þú ert skráð(ur) inn sem ${whoIs(subjectName)}.</p><p lang="en">You are signed in as ${who(subjectName)}.</p>`;
  const switchHref = `/auth/login?prompt=delegation&return_to=${encodeURIComponent(returnTo)}`;
  return `<!doctype html><html lang="is"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Aðgangi hafnað / Access denied</title><style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}h1{font-size:1.4rem}.code{color:#666;font-size:.9rem}</style></head><body>
<h1>Aðgangi hafnað / <span lang="en">Access denied</span></h1>
<p>Þessi innskráning hefur ekki aðgang að þessari síðu.</p><p lang="en">This sign-in may not open this page.</p>
${signedIn}
<p><a href="${escapeHtml(switchHref)}">Skipta um umboð / <span lang="en">Switch delegation</span></a></p>
<form method="post" action="/auth/logout"><button type="submit">Skrá út / <span lang="en">Sign out</span></button></form>
<p class="code">Error code: <code>access_denied</code> (HTTP 403)</p></body></html>`;
}
