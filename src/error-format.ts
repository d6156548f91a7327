/**
 * How errors are answered, decided once per route group: an HTML page for the
 * browser-facing login routes and page navigations, RFC 6750 JSON for APIs.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.ts';
import { chooseLocale, type Locale } from './pages/locale.ts';
import { isPageNavigation } from './request-kind.ts';

/** The two shapes of an error answer. */
export type ErrorFormat = 'json' | 'page';

/**
 * Middleware that fixes the error format for the routes behind it: a format,
 * or a function of the request.
 * @example app.use('/auth/verify', errorFormat('json'))
 */
export function errorFormat(format: ErrorFormat | ((c: Context<AppEnv>) => ErrorFormat)): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('errorFormat', typeof format === 'function' ? format(c) : format);
    await next();
  };
}

/** The format chosen for this request's route group; without one, a page for a page navigation and JSON otherwise. */
export function formatFor(c: Context<AppEnv>): ErrorFormat {
  return c.get('errorFormat') ?? (isPageNavigation(c.req.raw) ? 'page' : 'json');
}

/**
 * The language of this request's error page: `Accept-Language`, else
 * `KENNI_UI_LOCALES` (read from the raw variables when the configuration itself failed to parse).
 */
export function localeFor(c: Context<AppEnv>): Locale {
  const config: { readonly uiLocales?: unknown } | undefined = c.get('config');
  return chooseLocale(
    c.req.raw,
    config ?? { uiLocales: (c.env as Partial<AppEnv['Bindings']> | undefined)?.KENNI_UI_LOCALES },
  );
}
