/**
 * The dev provider's interaction pages (login, Kenni's delegation picker,
 * consent) and the interaction policy that makes `prompt=delegation` and
 * `prompt=delegation_admin` valid prompt values.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { interactionPolicy } from 'oidc-provider';
import { readBody, sendHtml } from '../http.ts';
import { consentPage, delegationPage, errorPage, loginPage } from './pages.ts';
import { DEV_USERS, delegationsOf, isDelegatedAccount, type DevUser } from './people.ts';

/** Kenni's prompt values that ask for the delegation picker after sign-in (`delegation_admin` is treated alike). */
export const DELEGATION_PROMPTS = ['delegation', 'delegation_admin'] as const;

/** Kenni's `error_description` when someone with no delegations asks for `prompt=delegation`. */
export const NO_DELEGATIONS_DESCRIPTION = 'No delegations found';

/**
 * How the user authenticated, for the ID token's `amr`: proof of possession
 * of a hardware-secured key (the SIM or app key behind Icelandic electronic IDs).
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
const AUTHENTICATION_METHODS = ['hwk'];

function asksForDelegation(prompt: unknown): boolean {
  const values = new Set(String(prompt ?? '').split(' '));
  return DELEGATION_PROMPTS.some((name) => values.has(name));
}

/**
 * oidc-provider's default policy plus two requestable prompts, `delegation`
 * and `delegation_admin` (unknown prompt values are otherwise refused with
 * `invalid_request`). The choice is made on the login page's follow-up, so
 * the login prompt is required whenever a delegation is asked for, and also
 * when the provider session is a delegated one but the request does not ask
 * for a delegation: a party chosen for one sign-in is never reused silently.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 */
export function createInteractionPolicy() {
  const { Check, Prompt, base } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(
    new Check('delegation_choice', 'End-User must choose whom to act for', (ctx: any) => {
      const { oidc } = ctx;
      if (oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      const asked = DELEGATION_PROMPTS.some((name) => oidc.prompts.has(name));
      return asked || isDelegatedAccount(oidc.session.accountId) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  const consentIndex = policy.findIndex((prompt: { name: string }) => prompt.name === 'consent');
  for (const name of DELEGATION_PROMPTS) policy.add(new Prompt({ name, requestable: true }), consentIndex);
  return policy;
}

/** Serves `<interactionPath><uid>[/action]`: the pages of one sign-in. */
export async function handleInteraction(
  provider: any,
  interactionPath: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const [uid = '', action = ''] = url.pathname.slice(interactionPath.length).split('/');
  const base = `${interactionPath}${uid}`;
  res.setHeader('cache-control', 'no-store');

  let details: any;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (error) {
    sendHtml(
      res,
      400,
      errorPage('invalid_request', `This sign-in is no longer valid; start again. (${String(error)})`),
    );
    return;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, errorPage('invalid_request', 'This sign-in page belongs to another sign-in; start again.'));
    return;
  }
  const client = await provider.Client.find(details.params.client_id);
  const clientName: string = client?.clientName ?? details.params.client_id;
  const wantsDelegation = asksForDelegation(details.params.prompt);

  if (req.method === 'GET' && action === '') {
    if (details.prompt.name === 'login' || DELEGATION_PROMPTS.includes(details.prompt.name)) {
      sendHtml(res, 200, loginPage(`${base}/login`, clientName));
    } else if (details.prompt.name === 'consent') {
      sendHtml(res, 200, consentPage(`${base}/confirm`, `${base}/abort`, clientName, details.prompt.details));
    } else {
      sendHtml(res, 501, errorPage('not_implemented', `Unknown prompt ${details.prompt.name}`));
    }
    return;
  }

  if (req.method === 'POST' && (action === 'login' || action === 'delegate')) {
    const form = new URLSearchParams(await readBody(req));
    const login = (form.get('login') ?? '').trim();
    const user = findUser(login);
    if (!user) {
      sendHtml(
        res,
        400,
        loginPage(`${base}/login`, clientName, `Enginn notandi með kennitöluna „${login}“ / No such user`),
      );
      return;
    }
    if (!wantsDelegation) {
      if (action === 'delegate') {
        sendHtml(res, 400, errorPage('invalid_request', 'This sign-in did not ask for a delegation.'));
        return;
      }
      await finish(provider, req, res, { login: { accountId: user.sub, amr: AUTHENTICATION_METHODS } });
      return;
    }

    const delegations = delegationsOf(user.sub);
    if (delegations.length === 0) {
      await finish(provider, req, res, { error: 'access_denied', error_description: NO_DELEGATIONS_DESCRIPTION });
      return;
    }
    if (action === 'login') {
      sendHtml(res, 200, delegationPage(`${base}/delegate`, clientName, user, delegations));
      return;
    }
    const choice = form.get('delegation') ?? '';
    const accountId =
      choice === 'self' ? user.sub : delegations.find((delegation) => delegation.key === choice)?.party.sub;
    if (!accountId) {
      sendHtml(res, 400, errorPage('invalid_request', `${user.name} may not act for „${choice}“.`));
      return;
    }
    // Every delegation prompt is answered at once, so neither is asked again on resume.
    const answered = Object.fromEntries(DELEGATION_PROMPTS.map((name) => [name, { choice }]));
    await finish(provider, req, res, { login: { accountId, amr: AUTHENTICATION_METHODS }, ...answered });
    return;
  }

  if (req.method === 'POST' && action === 'confirm') {
    await readBody(req);
    if (details.prompt.name !== 'consent') {
      sendHtml(res, 400, errorPage('invalid_request', 'Nothing to consent to.'));
      return;
    }
    const { prompt, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, (scopes as string[]).join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true },
    );
    return;
  }

  if (req.method === 'GET' && action === 'abort') {
    await finish(provider, req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' });
    return;
  }

  sendHtml(res, 404, errorPage('not_found', 'No such page'));
}

function findUser(login: string): DevUser | undefined {
  const digits = login.replace(/\D/g, '');
  return DEV_USERS.find((candidate) => candidate.national_id === digits || candidate.sub === login);
}

async function finish(provider: any, req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>) {
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}
