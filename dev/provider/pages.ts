/** The dev provider's HTML: login, delegation picker, consent, logout and error pages (Icelandic / English). */
import { escapeHtml, htmlPage } from '../http.ts';
import { describeDelegations, DEV_USERS, type DevDelegation, type DevUser } from './people.ts';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.4rem}form{margin:.5rem 0}button{font:inherit;padding:.6rem 1rem;cursor:pointer;width:100%;text-align:left}
.muted{color:#666;font-size:.9rem}.error{color:#b00020}code{background:#f2f2f5;padding:0 .2rem}`;

function layout(title: string, body: string): string {
  return htmlPage(title, STYLE, body);
}

/** The login page: one button per test user, each posting its kennitala to `action`. */
export function loginPage(action: string, clientName: string, error?: string): string {
  const users = DEV_USERS.map(
    (user) => `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="login" value="${escapeHtml(user.national_id)}">
<button type="submit">${escapeHtml(user.name)} <span class="muted">(${escapeHtml(user.national_id)})</span></button>
</form>`,
  ).join('\n');
  return layout(
    'Innskráning / Sign in',
    `<h1>Innskráning / Sign in</h1>
<p>${escapeHtml(clientName)} vill að þú skráir þig inn. / wants you to sign in.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<p class="muted">Veldu prófunarnotanda (engin lykilorð: þetta er þróunarþjónn) / Pick a test user (no password: development provider)</p>
${users}`,
  );
}

/**
 * Kenni's delegation picker: act as oneself or for one of the parties. Each
 * form posts the user's kennitala and the choice (`self` or the delegation's
 * key) to `action`.
 */
export function delegationPage(
  action: string,
  clientName: string,
  user: DevUser,
  delegations: DevDelegation[],
): string {
  const choice = (value: string, label: string, detail: string) => `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="login" value="${escapeHtml(user.national_id)}">
<input type="hidden" name="delegation" value="${escapeHtml(value)}">
<button type="submit">${escapeHtml(label)} <span class="muted">(${escapeHtml(detail)})</span></button>
</form>`;
  return layout(
    'Umboð / Act on behalf of',
    `<h1>Umboð / Act on behalf of</h1>
<p>${escapeHtml(user.name)}: fyrir hvern skráir þú þig inn hjá ${escapeHtml(clientName)}? / whom do you sign in for?</p>
${choice('self', `${user.name} (ég sjálf(ur) / myself)`, user.national_id)}
${delegations
  .map((delegation) =>
    choice(delegation.key, delegation.party.name, `${delegation.party.national_id}, ${delegation.delegation_type}`),
  )
  .join('\n')}`,
  );
}

/** The consent page: the scopes asked for, Allow (posts to `confirmAction`) or Deny (links to `abortUrl`). */
export function consentPage(confirmAction: string, abortUrl: string, clientName: string, missing: any): string {
  const scopes = [...(missing.missingOIDCScope ?? []), ...Object.values(missing.missingResourceScopes ?? {}).flat()];
  const uniqueScopes = [...new Set(scopes as string[])];
  return layout(
    'Samþykki / Consent',
    `<h1>Samþykki / Consent</h1>
<p>${escapeHtml(clientName)} biður um / asks for:</p>
<ul>${uniqueScopes.map((scope) => `<li><code>${escapeHtml(scope)}</code></li>`).join('')}</ul>
<form method="post" action="${escapeHtml(confirmAction)}">
<button type="submit" autofocus>Samþykkja / Allow</button>
</form>
<p><a href="${escapeHtml(abortUrl)}">Hafna / Deny</a></p>`,
  );
}

/** For a person who opens the provider's root: what this is, who can sign in and for whom. */
export function homePage(issuer: string): string {
  const users = DEV_USERS.map(
    (user) => `<li>${escapeHtml(user.name)}: <code>${escapeHtml(user.national_id)}</code></li>`,
  ).join('');
  const delegations = describeDelegations()
    .map((line) => `<li>${escapeHtml(line)}</li>`)
    .join('');
  return layout(
    'Kenni-like dev provider',
    `<h1>Kenni-like dev provider</h1>
<p>Issuer <code>${escapeHtml(issuer)}</code>:
<a href="${escapeHtml(`${issuer}/.well-known/openid-configuration`)}">discovery</a>.</p>
<p>Test users / prófunarnotendur:</p><ul>${users}</ul>
<p>Delegations / umboð (with <code>prompt=delegation</code>):</p><ul>${delegations}</ul>`,
  );
}

/** An error page naming the OAuth `error` and its description. */
export function errorPage(error: string, description: string): string {
  return layout(
    'Villa / Error',
    `<h1>Villa / Error</h1>
<p><strong>error</strong>: <code>${escapeHtml(error)}</code></p>
<p><strong>error_description</strong>: ${escapeHtml(description)}</p>`,
  );
}

/** oidc-provider's `renderError`: the error page instead of its default one. */
export async function renderError(ctx: any, out: { error?: string; error_description?: string }) {
  ctx.type = 'html';
  ctx.body = errorPage(out.error ?? 'server_error', out.error_description ?? '');
}

/**
 * Kenni signs out without asking; oidc-provider asks by default. The form is
 * kept (it carries the XSRF token) but submits itself; without JavaScript,
 * one click.
 */
export async function renderAutoSubmittingLogout(ctx: any, form: string) {
  const autoForm = form.replace(
    '</form>',
    '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Skrá út / Sign out</button></noscript></form>',
  );
  ctx.type = 'html';
  ctx.body = layout(
    'Útskráning / Signing out',
    `<h1>Útskráning… / Signing out…</h1>
${autoForm}
<script>document.forms[0].submit()</script>`,
  );
}

/** The page after sign-out when no `post_logout_redirect_uri` was given. */
export async function renderLoggedOut(ctx: any) {
  ctx.type = 'html';
  ctx.body = layout('Útskráð / Signed out', '<h1>Þú ert útskráð(ur) / You are signed out</h1>');
}
