/**
 * Drives the dev provider's (dev/provider.ts) login, delegation, consent and logout pages
 * the way a browser without JavaScript would, so end-to-end tests can sign in
 * from inside workerd. Uses only `fetch`, `URL`, `Headers` and
 * `URLSearchParams`: no Node APIs.
 */

/** Upper bound on requests per flow, so a redirect loop fails the test instead of hanging it. */
const MAX_STEPS = 20;

/**
 * A minimal cookie jar for one site: it keeps `name=value` pairs and ignores
 * every attribute except the ones that delete a cookie (`Max-Age` ≤ 0, or an
 * `Expires` in the past). Paths are ignored, which is enough for the dev
 * provider: its cookie names are distinct.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-5.2
 */
export class CookieJar {
  #cookies = new Map<string, string>();

  /** Takes in every `Set-Cookie` of a response. */
  store(response: Response): void {
    for (const setCookie of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = setCookie.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      if (isDeletion(attributes)) {
        this.#cookies.delete(name);
      } else {
        this.#cookies.set(name, value);
      }
    }
  }

  /** The `Cookie` request header value; empty when the jar is empty. */
  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** One cookie's value, if held. */
  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  /** The names of the cookies held. */
  names(): string[] {
    return [...this.#cookies.keys()];
  }
}

function isDeletion(attributes: string[]): boolean {
  for (const attribute of attributes) {
    const separator = attribute.indexOf('=');
    const name = (separator === -1 ? attribute : attribute.slice(0, separator)).trim().toLowerCase();
    const value = separator === -1 ? '' : attribute.slice(separator + 1).trim();
    if (name === 'max-age' && Number(value) <= 0) return true;
    if (name === 'expires') {
      const expires = Date.parse(value);
      if (!Number.isNaN(expires) && expires <= Date.now()) return true;
    }
  }
  return false;
}

/** A provider page or answer the helper did not expect; carries the status and URL. */
export class ProviderFlowError extends Error {
  readonly status: number;
  readonly url: string;

  constructor(message: string, status: number, url: string) {
    super(message);
    this.name = 'ProviderFlowError';
    this.status = status;
    this.url = url;
  }
}

/** Options for {@link signInAtProvider}. */
export interface SignInOptions {
  /** What to type into the login form: a dev user's `national_id` (or `sub`). */
  login: string;
  /**
   * What to do on the consent page: `true` (the default) allows, `false`
   * denies, so the callback URL carries `error=access_denied`.
   */
  consent?: boolean;
  /**
   * Whom to act for on the delegation picker (shown after login when the
   * request has `prompt=delegation`): a delegation's key from
   * `DEV_DELEGATIONS` (`company`, `person`) or `self`. Without it, reaching
   * the picker fails the flow.
   */
  delegation?: 'company' | 'person' | 'self';
  /** The provider cookies of an earlier sign-in, to continue its provider session (single sign-on); default: a fresh jar. */
  providerCookies?: CookieJar;
}

/** A provider page the flow answered, in order: `login`, `delegation` (the picker), `consent`, or `form` (a self-submitting form). */
export type ProviderPage = 'login' | 'delegation' | 'consent' | 'form';

/** Where a sign-in ended. */
export interface SignInResult {
  /** The first redirect off the provider's origin (the RP's callback with `code`, `state`, `iss`), absolute. */
  callbackUrl: string;
  /** The provider's cookies (its SSO session), for a later {@link endSessionAtProvider}. */
  providerCookies: CookieJar;
  /** The pages answered on the way, e.g. `['login', 'consent']`; empty when the provider session sufficed. */
  pages: ProviderPage[];
}

interface PendingRequest {
  url: string;
  method: 'GET' | 'POST';
  body?: URLSearchParams;
}

interface ParsedForm {
  method: 'GET' | 'POST';
  /** Absolute. */
  action: string;
  fields: URLSearchParams;
}

/**
 * Follows an authorization request through the provider: posts the login
 * form with `login`, answers the consent form, and stops at the first
 * redirect whose `Location` leaves the provider's origin.
 * @param authorizationUrl The full authorization request URL (e.g. the edge's `/auth/login` redirect `Location`).
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthorizationEndpoint
 */
export async function signInAtProvider(authorizationUrl: string, options: SignInOptions): Promise<SignInResult> {
  const providerOrigin = new URL(authorizationUrl).origin;
  const jar = options.providerCookies ?? new CookieJar();
  const allowConsent = options.consent ?? true;
  const pages: ProviderPage[] = [];

  let request: PendingRequest = { url: authorizationUrl, method: 'GET' };
  for (let step = 0; step < MAX_STEPS; step++) {
    const response = await send(request, jar);
    const location = redirectTarget(response, request.url);
    if (location) {
      if (location.origin !== providerOrigin) return { callbackUrl: location.href, providerCookies: jar, pages };
      request = { url: location.href, method: 'GET' };
      continue;
    }

    const html = await readPage(response, request.url);
    const forms = parseForms(html, request.url);
    const loginForm = forms.find((form) => new URL(form.action).pathname.endsWith('/login'));
    const consentForm = forms.find((form) => new URL(form.action).pathname.endsWith('/confirm'));
    const delegationForms = forms.filter((form) => new URL(form.action).pathname.endsWith('/delegate'));

    if (loginForm) {
      pages.push('login');
      loginForm.fields.set('login', options.login);
      request = submit(loginForm);
    } else if (delegationForms.length > 0) {
      const choice = delegationForms.find((form) => form.fields.get('delegation') === options.delegation);
      if (!choice) {
        throw new ProviderFlowError(
          `delegation picker offers ${delegationForms.map((form) => form.fields.get('delegation')).join(', ')}, not ${options.delegation ?? '(no delegation option)'}`,
          response.status,
          request.url,
        );
      }
      pages.push('delegation');
      request = submit(choice);
    } else if (consentForm && allowConsent) {
      pages.push('consent');
      request = submit(consentForm);
    } else if (consentForm) {
      pages.push('consent');
      const abortUrl = findLink(html, request.url, '/abort');
      if (!abortUrl) throw new ProviderFlowError('consent page has no deny link', response.status, request.url);
      request = { url: abortUrl, method: 'GET' };
    } else if (forms.length === 1 && forms[0]) {
      // A self-submitting form (oidc-provider's form_post pages).
      pages.push('form');
      request = submit(forms[0]);
    } else {
      throw new ProviderFlowError(`unexpected provider page: ${summarize(html)}`, response.status, request.url);
    }
  }
  throw new ProviderFlowError(`no redirect off the provider after ${MAX_STEPS} requests`, 0, request.url);
}

/**
 * Follows RP-initiated logout at the provider with its cookies (including a
 * confirmation form, which it submits) and returns the first redirect off the
 * provider's origin: the `post_logout_redirect_uri` (with `state` if sent).
 * @param logoutUrl The end-session request URL (e.g. the edge's `/auth/logout` redirect `Location`).
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html
 */
export async function endSessionAtProvider(logoutUrl: string, jar: CookieJar): Promise<string> {
  const providerOrigin = new URL(logoutUrl).origin;

  let request: PendingRequest = { url: logoutUrl, method: 'GET' };
  for (let step = 0; step < MAX_STEPS; step++) {
    const response = await send(request, jar);
    const location = redirectTarget(response, request.url);
    if (location) {
      if (location.origin !== providerOrigin) return location.href;
      request = { url: location.href, method: 'GET' };
      continue;
    }

    const html = await readPage(response, request.url);
    const [form] = parseForms(html, request.url);
    if (!form) {
      throw new ProviderFlowError(
        `logout ended on the provider without a redirect: ${summarize(html)}`,
        response.status,
        request.url,
      );
    }
    request = submit(form);
  }
  throw new ProviderFlowError(`no redirect off the provider after ${MAX_STEPS} requests`, 0, request.url);
}

async function send(request: PendingRequest, jar: CookieJar): Promise<Response> {
  const headers = new Headers({ accept: 'text/html' });
  const cookie = jar.header();
  if (cookie) headers.set('cookie', cookie);
  if (request.body) headers.set('content-type', 'application/x-www-form-urlencoded');
  const response = await fetch(request.url, {
    method: request.method,
    headers,
    body: request.body?.toString(),
    redirect: 'manual',
  });
  jar.store(response);
  return response;
}

function redirectTarget(response: Response, requestUrl: string): URL | undefined {
  if (response.status < 300 || response.status > 399) return undefined;
  const location = response.headers.get('location');
  if (!location) throw new ProviderFlowError('redirect without Location', response.status, requestUrl);
  return new URL(location, requestUrl);
}

async function readPage(response: Response, requestUrl: string): Promise<string> {
  const html = await response.text();
  if (!response.ok) {
    throw new ProviderFlowError(
      `provider answered ${response.status}: ${summarize(html)}`,
      response.status,
      requestUrl,
    );
  }
  return html;
}

function submit(form: ParsedForm): PendingRequest {
  if (form.method === 'POST') return { url: form.action, method: 'POST', body: form.fields };
  const url = new URL(form.action);
  for (const [name, value] of form.fields) url.searchParams.append(name, value);
  return { url: url.href, method: 'GET' };
}

/** Forms with their hidden and text inputs; good enough for the provider's simple pages. */
function parseForms(html: string, pageUrl: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = parseAttributes(match[1] ?? '');
    const fields = new URLSearchParams();
    for (const input of (match[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
      const inputAttributes = parseAttributes(input[1] ?? '');
      const name = inputAttributes.get('name');
      const type = (inputAttributes.get('type') ?? 'text').toLowerCase();
      if (!name || ['submit', 'button', 'reset', 'image', 'checkbox', 'radio'].includes(type)) continue;
      fields.append(name, inputAttributes.get('value') ?? '');
    }
    forms.push({
      method: (attributes.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
      action: new URL(attributes.get('action') ?? pageUrl, pageUrl).href,
      fields,
    });
  }
  return forms;
}

function findLink(html: string, pageUrl: string, pathSuffix: string): string | undefined {
  for (const match of html.matchAll(/<a\b([^>]*)>/gi)) {
    const href = parseAttributes(match[1] ?? '').get('href');
    if (href && new URL(href, pageUrl).pathname.endsWith(pathSuffix)) return new URL(href, pageUrl).href;
  }
  return undefined;
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of source.matchAll(/([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g)) {
    const name = (match[1] ?? '').toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
}

const NAMED_ENTITIES = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
]);

function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (entity, body: string) => {
    const lower = body.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
    return NAMED_ENTITIES.get(lower) ?? entity;
  });
}

/** The page's visible text, shortened, for error messages. */
function summarize(html: string): string {
  const text = html
    .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return decodeEntities(text).slice(0, 300);
}
