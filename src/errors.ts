/**
 * One error model for the whole edge: every failure the edge knows about is an
 * {@link AppError} with a stable `code`, an HTTP status and, where OAuth defines
 * one, an `error` value. Anything else is a logged 500 without details.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { renderErrorPage } from './pages/error-page.ts';
import { DEFAULT_LOCALE, pageHeaders, type Locale } from './pages/locale.ts';
import type { PageLabel } from './pages/ui-text.ts';
import { expireCookie, SESSION_COOKIE } from './session/cookies.ts';
import { BEARER_REALM, bearerChallenge, cutScopeList } from './www-authenticate.ts';

/**
 * Stable error codes. They appear in JSON bodies, on error pages and in logs.
 * @example
 * if (error instanceof AppError && error.code === 'session_ended') return c.redirect('/auth/login');
 */
export type ErrorCode =
  | 'config_invalid'
  | 'login_state_missing'
  | 'login_state_invalid'
  | 'login_expired'
  | 'login_replayed'
  | 'login_too_old'
  | 'provider_error'
  | 'access_denied'
  | 'delegation_denied'
  | 'invalid_grant'
  | 'id_token_invalid'
  | 'token_response_invalid'
  | 'provider_unreachable'
  | 'provider_misconfigured'
  | 'session_required'
  | 'session_ended'
  | 'cross_site_request'
  | 'session_request_invalid'
  | 'path_ambiguous'
  | 'bearer_missing'
  | 'bearer_malformed'
  | 'bearer_invalid'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'introspection_limited'
  | 'scope_invalid'
  | 'origin_not_configured'
  | 'origin_unreachable'
  | 'origin_timeout'
  | 'm2m_not_configured'
  | 'logout_token_invalid'
  | 'revoke_request_invalid'
  | 'not_found'
  | 'method_not_allowed'
  | 'internal_error';

/**
 * The HTTP status of every error code: one code, one status, wherever it is thrown.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-15
 */
export const ERROR_STATUS: Readonly<Record<ErrorCode, ContentfulStatusCode>> = Object.freeze({
  config_invalid: 500,
  login_state_missing: 400,
  login_state_invalid: 400,
  login_expired: 400,
  login_replayed: 400,
  login_too_old: 400,
  provider_error: 400,
  access_denied: 403,
  delegation_denied: 403,
  invalid_grant: 400,
  id_token_invalid: 400,
  token_response_invalid: 502,
  provider_unreachable: 502,
  provider_misconfigured: 502,
  session_required: 401,
  session_ended: 401,
  cross_site_request: 403,
  session_request_invalid: 400,
  path_ambiguous: 400,
  bearer_missing: 401,
  bearer_malformed: 400,
  bearer_invalid: 401,
  insufficient_scope: 403,
  insufficient_user_authentication: 401,
  introspection_limited: 503,
  scope_invalid: 400,
  origin_not_configured: 404,
  origin_unreachable: 502,
  origin_timeout: 504,
  m2m_not_configured: 500,
  logout_token_invalid: 400,
  revoke_request_invalid: 400,
  not_found: 404,
  method_not_allowed: 405,
  internal_error: 500,
});

/** Options for {@link AppError}. */
export interface AppErrorOptions {
  /** The OAuth / RFC 6750 `error` value, where one applies. */
  oauthError?: string;
  /** Extra response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** Scopes to name in an RFC 6750 `insufficient_scope` challenge. */
  scope?: string;
  /** Seconds to name as `max_age` in an RFC 9470 `insufficient_user_authentication` challenge. */
  maxAge?: number;
  /** Pages only: answer with a 302 to this same-origin path instead of a page (step-up: sign in again). */
  location?: string;
  /** Where the error page's "try again" link goes (pages only). */
  retryHref?: string;
  /** Pages only: the retry link's label (default "Try again", in the page's language) and a "Back" link. */
  pageLinks?: { retryLabel?: PageLabel; backHref?: string };
  /** A finer stable reason for logs, e.g. `expired` or `wrong_audience`. */
  reason?: string;
  /** Pages only: renders a complete, already escaped HTML page in the given language instead of the generic one. */
  page?: (locale: Locale) => string;
  /** The underlying cause, logged but never shown. */
  cause?: unknown;
}

/**
 * A known failure with a stable code; its status comes from {@link ERROR_STATUS}.
 * The message is safe to show to the client: it never contains a token, secret
 * or personal number. It renders itself ({@link AppError.getResponse}: RFC 6750
 * JSON), so a Hono app without `onError` still answers 401/403, not 500.
 * @example
 * throw new AppError('session_required', 'Sign-in required.'); // 401, RFC 6750 JSON by default
 */
export class AppError extends HTTPException {
  readonly code: ErrorCode;
  override readonly status: ContentfulStatusCode;
  readonly oauthError: string | undefined;
  readonly headers: Record<string, string>;
  readonly scope: string | undefined;
  readonly maxAge: number | undefined;
  readonly location: string | undefined;
  readonly retryHref: string | undefined;
  readonly pageLinks: { readonly retryLabel?: PageLabel; readonly backHref?: string };
  readonly reason: string;
  /** Pages only: renders the page to answer with instead of the generic one. */
  readonly page: ((locale: Locale) => string) | undefined;
  /** `Set-Cookie` values the error response must still carry (e.g. clearing a used login cookie). */
  readonly setCookies: string[] = [];
  /** On API routes: the protected resource metadata URL its Bearer challenge names (RFC 9728 §5.1). */
  resourceMetadata: string | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(ERROR_STATUS[code], options.cause === undefined ? { message } : { message, cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.oauthError = options.oauthError;
    this.headers = options.headers ?? {};
    this.scope = options.scope === undefined ? undefined : cutScopeList(options.scope);
    this.maxAge = options.maxAge;
    this.location = options.location;
    this.retryHref = options.retryHref;
    this.pageLinks = options.pageLinks ?? {};
    this.reason = options.reason ?? code;
    this.page = options.page;
  }

  /** The error as a response: RFC 6750 JSON (what Hono's default error handler sends); `errorResponse` renders pages. */
  override getResponse(): Response {
    return errorResponse(this, 'json');
  }
}

/** A problem with one setting: the variable, what is wrong and how to fix it. */
export interface ConfigProblem {
  variable: string;
  problem: string;
  fix: string;
}

/**
 * Raised when the configuration is missing or invalid; lists every problem by variable name.
 * @example
 * try { parseConfig(env); } catch (error) { if (error instanceof ConfigError) console.log(error.problems); }
 */
export class ConfigError extends AppError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(
      'config_invalid',
      `kenni-edge is not configured correctly: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
    );
    this.name = 'ConfigError';
    this.problems = Object.freeze(problems.slice());
  }
}

/** Escapes text for HTML element content and attribute values (kept here for existing importers). */
export { escapeHtml } from './pages/html.ts';

/**
 * Turns an {@link AppError} into a response: an RFC 6750 JSON body (with a
 * `WWW-Authenticate` challenge on 401/403 API answers) or an HTML error page
 * in `locale` (see `chooseLocale`), marked with `Content-Language` and `Vary: Accept-Language`.
 */
export function errorResponse(error: AppError, format: 'json' | 'page', locale: Locale = DEFAULT_LOCALE): Response {
  const headers = new Headers(error.headers);
  headers.set('cache-control', 'no-store');
  for (const cookie of error.setCookies) headers.append('set-cookie', cookie);
  // Wherever a session ends (a refresh met invalid_grant), its cookie is cleared with the answer.
  if (error.code === 'session_ended' && !error.setCookies.some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`))) {
    headers.append('set-cookie', expireCookie(SESSION_COOKIE));
  }
  if (format === 'page' && error.location !== undefined) {
    headers.set('location', error.location);
    return new Response(null, { status: 302, headers });
  }
  if (format === 'page') {
    headers.set('content-type', 'text/html; charset=utf-8');
    for (const [name, value] of Object.entries(pageHeaders(locale))) headers.set(name, value);
    const html = error.page ? error.page(locale) : renderErrorPage(error, locale);
    return new Response(html, { status: error.status, headers });
  }
  const challenge = challengeFor(error);
  if (challenge && !headers.has('www-authenticate')) headers.set('www-authenticate', challenge);
  headers.set('content-type', 'application/json; charset=utf-8');
  const body: Record<string, unknown> = {
    error: error.oauthError ?? error.code,
    error_description: error.message,
    code: error.code,
  };
  if (error instanceof ConfigError) body.problems = error.problems;
  if (error.scope) body.scope = error.scope;
  if (error.maxAge !== undefined) body.max_age = error.maxAge;
  return new Response(JSON.stringify(body), { status: error.status, headers });
}

function challengeFor(error: AppError): string | undefined {
  const realm = BEARER_REALM;
  const resourceMetadata = error.resourceMetadata;
  const base = resourceMetadata ? { realm, resourceMetadata } : { realm };
  switch (error.code) {
    case 'bearer_missing':
    case 'session_required':
    case 'session_ended':
      return bearerChallenge(base);
    case 'bearer_malformed':
    case 'scope_invalid':
      return bearerChallenge({ ...base, error: 'invalid_request', description: error.message });
    case 'bearer_invalid':
      return bearerChallenge({ ...base, error: 'invalid_token', description: error.message });
    case 'insufficient_scope':
    case 'insufficient_user_authentication':
      return bearerChallenge({
        ...base,
        error: error.code,
        description: error.message,
        ...(error.scope ? { scope: error.scope } : {}),
        ...(error.maxAge !== undefined ? { maxAge: error.maxAge } : {}),
      });
    default:
      return undefined;
  }
}

/**
 * The `session_ended` error (401) a session refresh ends with: `reason`
 * `tokens_unreadable` when the sealed tokens could not be opened, else a
 * page with a sign-in link.
 */
export function sessionEnded(reason: string): AppError {
  return reason === 'tokens_unreadable'
    ? new AppError('session_ended', 'The session could not be read; please sign in again.', { reason })
    : new AppError('session_ended', 'The session has ended; please sign in again.', {
        reason,
        retryHref: '/auth/login',
      });
}
