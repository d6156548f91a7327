/**
 * The generic error page, in the reader's language: the code's title and
 * explanation, the links the error asks for, and the stable code. The error's
 * own message (English, for JSON and developers) is not shown on it.
 */
import { button, codeLine, escapeHtml, renderPage } from './html.ts';
import type { Locale } from './locale.ts';
import { errorPageText } from './messages.ts';
import { UI_TEXT, type PageLabel } from './ui-text.ts';

/** What the page needs of an error (an `AppError` or a `ConfigError` has it). */
export interface PageError {
  readonly code: string;
  readonly status: number;
  /** The OAuth `error` value (e.g. the provider's own code), shown beside the code when it differs from it. */
  readonly oauthError?: string | undefined;
  /** Where the main link goes, if the error offers one. */
  readonly retryHref?: string | undefined;
  readonly pageLinks: { readonly retryLabel?: PageLabel; readonly backHref?: string };
  /** A configuration error's problems, listed on its page. */
  readonly problems?: readonly { variable: string; problem: string; fix: string }[];
}

/**
 * Renders the page (no scripts, everything escaped).
 * @example
 * renderErrorPage(new AppError('login_expired', 'Expired.', { retryHref: '/auth/login' }), 'is');
 */
export function renderErrorPage(error: PageError, locale: Locale): string {
  const text = errorPageText(error.code, locale);
  const ui = UI_TEXT[locale];
  // The problems are the operator's: variable names and fixes stay as written (English), marked as such.
  const problems = error.problems
    ? `<ul lang="en">${error.problems
        .map(
          (p) =>
            `<li><code>${escapeHtml(p.variable)}</code>: ${escapeHtml(p.problem)} <br><span lang="${locale}">${escapeHtml(ui.fix)}:</span> ${escapeHtml(p.fix)}</li>`,
        )
        .join('')}</ul>`
    : '';
  const retry = error.retryHref ? button(error.retryHref, ui.labels[error.pageLinks.retryLabel ?? 'try_again']) : '';
  const back = error.pageLinks.backHref ? ` ${button(error.pageLinks.backHref, ui.labels.back)}` : '';
  return renderPage(
    locale,
    text.title,
    `<p>${escapeHtml(text.explanation)}</p>${problems}${retry}${back}${codeLine(locale, error.code, error.status, error.oauthError)}`,
  );
}
