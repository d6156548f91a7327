/**
 * The one page layout of the edge: self-contained HTML (no scripts, no
 * outside resources), `<html lang>` set to the page's language, every
 * inserted value escaped.
 */
import type { Locale } from './locale.ts';
import { UI_TEXT } from './ui-text.ts';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const pageStyle =
  'body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b1b1f}' +
  'code{background:#f2f2f5;padding:.1rem .3rem;border-radius:3px}h1{font-size:1.4rem}' +
  '.code{color:#666;font-size:.9rem}li{margin:.4rem 0}a.button{display:inline-block;margin-top:1rem;padding:.5rem 1rem;background:#1b4dd8;color:#fff;border-radius:4px;text-decoration:none}';

/** A whole page: `title` is text (escaped here), `body` is HTML the caller has escaped already. */
export function renderPage(locale: Locale, title: string, body: string): string {
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${pageStyle}</style></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** A link styled as a button. */
export const button = (href: string, label: string): string =>
  `<a class="button" href="${escapeHtml(href)}">${escapeHtml(label)}</a>`;

/**
 * The last line of an error page: the stable code (English, as in JSON and logs), the HTTP status and,
 * when it says more, the OAuth `error` value (e.g. the provider's code) for whoever the reader reports it to.
 */
export function codeLine(locale: Locale, code: string, status: number, oauthError?: string): string {
  const extra = oauthError && oauthError !== code ? ` · <code>${escapeHtml(oauthError)}</code>` : '';
  return `<p class="code">${escapeHtml(UI_TEXT[locale].errorCode)}: <code>${escapeHtml(code)}</code> (HTTP ${status})${extra}</p>`;
}
