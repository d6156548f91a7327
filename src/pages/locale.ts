/**
 * Which language a page speaks: Icelandic or English, from the request's
 * `Accept-Language` (q-values honoured, `q=0` meaning "not acceptable"), else
 * the first of `KENNI_UI_LOCALES` that is `is` or `en`, else English.
 * Pages only: JSON error codes and descriptions stay English.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-12.5.4
 */

/** The languages the edge's pages are written in. */
export type Locale = 'is' | 'en';

/** The page languages. */
export const LOCALES: readonly Locale[] = Object.freeze(['is', 'en']);

/** The language when neither the request nor `KENNI_UI_LOCALES` names one of ours. */
export const DEFAULT_LOCALE: Locale = 'en';

/** Longer headers are read up to here: a browser sends well under 200 characters. */
const MAX_HEADER_LENGTH = 1024;
/** At most this many ranges are read; a flood of them must not cost CPU. */
const MAX_RANGES = 32;
/** RFC 9110 §12.5.4: `language-range [ OWS ";" OWS "q=" qvalue ]`; anything else is skipped. */
const RANGE = /^(\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)(?:[ \t]*;[ \t]*q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?))?$/i;

/** How much the request wants a locale, and where in the header that was said (earlier wins a tie). */
interface Preference {
  q: number;
  position: number;
}

/**
 * The page language for `request`: the best of `is` / `en` in its
 * `Accept-Language`; when the header is absent, malformed or accepts neither,
 * the first `is` or `en` in `config.uiLocales` (`KENNI_UI_LOCALES`); else English.
 * Never throws.
 * @example
 * chooseLocale(new Request('https://x/', { headers: { 'accept-language': 'is-IS,is;q=0.9,en;q=0.8' } }), config); // 'is'
 */
export function chooseLocale(request: Request, config?: { readonly uiLocales?: unknown }): Locale {
  const configured = configuredLocale(config?.uiLocales);
  const { best, refused } = readAcceptLanguage(request.headers.get('accept-language'), configured);
  if (best) return best;
  // Nothing acceptable: the configured language, then the default, unless the reader refused it ("en;q=0").
  const fallbacks = [configured, DEFAULT_LOCALE, ...LOCALES].filter((locale) => locale !== undefined);
  return fallbacks.find((locale) => !refused.has(locale)) ?? configured ?? DEFAULT_LOCALE;
}

/** The first `is` or `en` (any region) in a space- or comma-separated list of language tags. */
export function configuredLocale(uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.slice(0, MAX_HEADER_LENGTH).split(/[\s,]+/)) {
    const locale = localeOf(tag);
    if (locale) return locale;
  }
  return undefined;
}

/** The preferred acceptable locale of an `Accept-Language` value (none when it accepts neither), and the ones it refuses. */
function readAcceptLanguage(
  header: string | null,
  tieBreak: Locale | undefined,
): { best: Locale | undefined; refused: ReadonlySet<Locale> } {
  const refused = new Set<Locale>();
  if (!header) return { best: undefined, refused };
  const explicit = new Map<Locale, Preference>();
  let wildcard: Preference | undefined;
  const ranges = header.slice(0, MAX_HEADER_LENGTH).split(',').slice(0, MAX_RANGES);
  ranges.forEach((raw, position) => {
    const match = RANGE.exec(raw.trim());
    if (!match) return;
    const q = match[2] === undefined ? 1 : Number(match[2]);
    if (match[1] === '*') {
      wildcard ??= { q, position };
      return;
    }
    const locale = localeOf(match[1]!);
    if (!locale) return;
    // "is;q=0" refuses Icelandic outright, whatever a regional range says.
    if (q === 0 && !match[1]!.includes('-')) refused.add(locale);
    const known = explicit.get(locale);
    if (!known || q > known.q) explicit.set(locale, { q, position });
  });
  let best: { locale: Locale; preference: Preference } | undefined;
  // On a tie (e.g. both from "*"), KENNI_UI_LOCALES decides, then the default.
  const order: Locale[] = (tieBreak ?? DEFAULT_LOCALE) === 'is' ? ['is', 'en'] : ['en', 'is'];
  for (const locale of order) {
    const preference = refused.has(locale) ? undefined : (explicit.get(locale) ?? wildcard);
    if (!preference || preference.q === 0) continue;
    if (
      !best ||
      preference.q > best.preference.q ||
      (preference.q === best.preference.q && preference.position < best.preference.position)
    )
      best = { locale, preference };
  }
  return { best: best?.locale, refused };
}

/** `is`, `is-IS`, `EN-gb` → the locale of their primary language subtag; anything else → undefined. */
function localeOf(tag: string): Locale | undefined {
  const primary = tag.split('-', 1)[0]!.toLowerCase();
  return primary === 'is' || primary === 'en' ? primary : undefined;
}

/**
 * The headers every page carries: its language, and `Vary: Accept-Language`
 * so that no cache hands one reader's language to another.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-8.5
 * @example
 * new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8', ...pageHeaders('is') } });
 */
export function pageHeaders(locale: Locale): Record<string, string> {
  return { 'content-language': locale, vary: 'Accept-Language' };
}
