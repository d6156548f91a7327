/**
 * Every page the edge renders speaks Icelandic or English (issue 13, item 6):
 * each error code's page in both languages (none lacks a translation), the
 * 403 page, the delegation page, the cross-site logout confirmation and the
 * configuration error page through the real worker, chosen by
 * `Accept-Language` and else `KENNI_UI_LOCALES`; names intact and escaped;
 * JSON answers unchanged.
 */
import { describe, expect, it } from 'vitest';
import { AppError, ERROR_STATUS, errorResponse, escapeHtml, type ErrorCode } from '../../src/errors.ts';
import type { Locale } from '../../src/pages/locale.ts';
import { errorPageText, TRANSLATED_CODES } from '../../src/pages/messages.ts';
import { callbackPath, setUpHostileProvider, startLogin } from '../auth/hostile-provider-helpers.ts';
import { setUpGateway, signIn } from '../gateway/helpers.ts';
import { createTestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, GUDRUN, NAVIGATION, SAME_ORIGIN_FETCH, THORDUR } from '../support/presets.ts';

const CODES = Object.keys(ERROR_STATUS) as ErrorCode[];
const LOCALES: Locale[] = ['is', 'en'];

/** Asserts a page in `locale`: status, HTML in UTF-8, `<html lang>`, `Content-Language`, `Vary`, the title. */
async function expectPage(response: Response, locale: Locale, status: number, title: string): Promise<string> {
  const html = await response.text();
  expect(response.status, html).toBe(status);
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(response.headers.get('content-language')).toBe(locale);
  expect(response.headers.get('vary')).toBe('Accept-Language');
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(html.startsWith(`<!doctype html><html lang="${locale}"><head><meta charset="utf-8">`)).toBe(true);
  expect(html).toContain(`<title>${escapeHtml(title)}</title>`);
  expect(html).toContain(`<h1>${escapeHtml(title)}</h1>`);
  expect(html).not.toContain('<script');
  return html;
}

const withLanguage = (headers: Record<string, string>, acceptLanguage?: string) =>
  acceptLanguage === undefined ? headers : { ...headers, 'accept-language': acceptLanguage };

describe('every error code renders a page in both languages', () => {
  it('each code of ERROR_STATUS has its own text, and no text is for a code that does not exist', () => {
    expect([...TRANSLATED_CODES].sort()).toEqual([...CODES].sort());
  });

  it.each(CODES)('%s', async (code) => {
    const status = ERROR_STATUS[code];
    const is = errorPageText(code, 'is');
    const en = errorPageText(code, 'en');
    // Translated, not copied: both the title and the explanation differ between the languages.
    expect(is.title).not.toBe(en.title);
    expect(is.explanation).not.toBe(en.explanation);
    for (const locale of LOCALES) {
      const error = new AppError(code, 'An English message for developers.');
      const html = await expectPage(
        errorResponse(error, 'page', locale),
        locale,
        status,
        errorPageText(code, locale).title,
      );
      expect(html).toContain(`<p>${escapeHtml(errorPageText(code, locale).explanation)}</p>`);
      expect(html).toContain(`${locale === 'is' ? 'Villukóði' : 'Error code'}: <code>${code}</code> (HTTP ${status})`);
      expect(html).not.toContain('An English message for developers.');
    }
  });

  it('the JSON answer of the same error stays English, with its code, and carries no page headers', async () => {
    const response = errorResponse(new AppError('session_ended', 'Please sign in again.'), 'json', 'is');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('content-language')).toBeNull();
    expect(response.headers.get('vary')).toBeNull();
    expect(await response.json()).toEqual({
      error: 'session_ended',
      error_description: 'Please sign in again.',
      code: 'session_ended',
    });
  });

  it('a code without text of its own still gets a page that makes sense (the generic one)', () => {
    expect(errorPageText('no_such_code', 'is').title).toBe('Eitthvað fór úrskeiðis');
    expect(errorPageText('no_such_code', 'en').title).toBe('Something went wrong');
    expect(errorPageText('toString', 'is').title).toBe('Eitthvað fór úrskeiðis');
  });

  it('the retry and back links speak the page language', async () => {
    const error = new AppError('delegation_denied', 'x', {
      retryHref: '/auth/login',
      pageLinks: { retryLabel: 'sign_in_as_yourself', backHref: '/dashboard' },
    });
    const is = await errorResponse(error, 'page', 'is').text();
    expect(is).toContain('<a class="button" href="/auth/login">Skrá inn sem þú sjálf(ur)</a>');
    expect(is).toContain('<a class="button" href="/dashboard">Til baka</a>');
    const en = await errorResponse(new AppError('login_expired', 'x', { retryHref: '/auth/login' }), 'page', 'en');
    expect(await en.text()).toContain('<a class="button" href="/auth/login">Try again</a>');
    const tryAgain = await errorResponse(
      new AppError('login_expired', 'x', { retryHref: '/auth/login' }),
      'page',
      'is',
    );
    expect(await tryAgain.text()).toContain('<a class="button" href="/auth/login">Reyna aftur</a>');
  });
});

describe('the language of a page through the worker', () => {
  /** A callback without its login cookie: the 400 login_state_missing page. */
  const stateMissing = (edge = createTestEdge(), acceptLanguage?: string) =>
    edge.fetch('/auth/callback?code=c&state=s', { headers: withLanguage(NAVIGATION, acceptLanguage) });

  it.each([
    ['is', undefined, 'is'],
    ['en', undefined, 'en'],
    ['is-IS,is;q=0.9,en-US;q=0.8,en;q=0.7', undefined, 'is'],
    ['en-GB,en;q=0.9,is;q=0.8', undefined, 'en'],
    ['en;q=0.4, is;q=0.6', undefined, 'is'],
    ['is;q=0, *', undefined, 'en'],
    [undefined, 'is', 'is'],
    [undefined, 'en', 'en'],
    [undefined, undefined, 'en'],
    ['en', 'is', 'en'],
    ['de-DE,de;q=0.9', 'is', 'is'],
    ['is;q=nonsense,,;', 'is', 'is'],
    ['is;q=nonsense,,;', undefined, 'en'],
  ] as Array<[string | undefined, string | undefined, Locale]>)(
    'Accept-Language %j, KENNI_UI_LOCALES %j → %s',
    async (acceptLanguage, uiLocales, expected) => {
      const edge = createTestEdge(uiLocales === undefined ? {} : { KENNI_UI_LOCALES: uiLocales });
      const title = errorPageText('login_state_missing', expected).title;
      const html = await expectPage(await stateMissing(edge, acceptLanguage), expected, 400, title);
      expect(html).toContain('<code>login_state_missing</code> (HTTP 400)');
      expect(html).toContain(expected === 'is' ? '>Reyna aftur</a>' : '>Try again</a>');
    },
  );

  it('the configuration error page: Icelandic from KENNI_UI_LOCALES even though the configuration is invalid', async () => {
    const edge = createTestEdge({ KENNI_ISSUER: undefined, KENNI_UI_LOCALES: 'is' });
    const is = await expectPage(
      await edge.fetch('/account', { headers: NAVIGATION }),
      'is',
      500,
      'kenni-edge er ekki rétt stillt',
    );
    expect(is).toContain('<code>KENNI_ISSUER</code>');
    expect(is).toContain('<span lang="is">Lagfæring:</span>');
    expect(is).toContain('Villukóði: <code>config_invalid</code> (HTTP 500)');
    const en = await edge.fetch('/account', { headers: withLanguage(NAVIGATION, 'en') });
    expect(await expectPage(en, 'en', 500, 'kenni-edge is not configured correctly')).toContain(
      '<span lang="en">Fix:</span>',
    );
  });

  it('the cross-site logout confirmation, in either language, still only offers a same-origin form', async () => {
    const edge = createTestEdge({ KENNI_UI_LOCALES: 'en' });
    for (const [acceptLanguage, locale, title, button] of [
      ['is-IS', 'is', 'Viltu skrá þig út?', 'Skrá út'],
      ['en-GB', 'en', 'Sign out?', 'Sign out'],
      [undefined, 'en', 'Sign out?', 'Sign out'],
    ] as const) {
      const response = await edge.fetch('/auth/logout', {
        headers: withLanguage(CROSS_SITE_NAVIGATION, acceptLanguage),
      });
      const html = await expectPage(response, locale, 403, title);
      expect(html).toContain(
        `<form method="post" action="/auth/logout"><button type="submit">${button}</button></form>`,
      );
      expect(html).toContain('<code>cross_site_request</code> (HTTP 403)');
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });
});

describe('the 403 page', () => {
  const ROUTES = JSON.stringify([{ path: '/admin', allow: [{ national_id: [THORDUR.national_id] }] }]);

  it('speaks the reader language, names the signed-in person intact; JSON stays English', async () => {
    const setup = await setUpGateway({ edge: { ROUTES, KENNI_UI_LOCALES: 'is' } });
    await signIn(setup, { claims: { ...GUDRUN } });

    const is = await setup.edge.fetch('/admin?x=1', { headers: NAVIGATION });
    const isHtml = await expectPage(is, 'is', 403, 'Aðgangi hafnað');
    expect(isHtml).toContain('<p>Þú hefur ekki aðgang að þessari síðu.</p>');
    expect(isHtml).toContain('<p>Þú ert skráð(ur) inn sem <strong>Guðrún Ólafsdóttir</strong>.</p>');
    expect(isHtml).toContain(
      '<a href="/auth/login?prompt=delegation&#38;return_to=%2Fadmin%3Fx%3D1">Skipta um umboð</a>',
    );
    expect(isHtml).toContain('<button type="submit">Skrá út</button>');
    expect(isHtml).not.toContain(GUDRUN.national_id);

    const en = await setup.edge.fetch('/admin', { headers: withLanguage(NAVIGATION, 'en-US,en;q=0.9') });
    const enHtml = await expectPage(en, 'en', 403, 'Access denied');
    expect(enHtml).toContain('<p>You are signed in as <strong>Guðrún Ólafsdóttir</strong>.</p>');
    expect(enHtml).toContain('>Switch delegation</a>');
    expect(enHtml).toContain('<button type="submit">Sign out</button>');

    const json = await setup.edge.fetch('/admin', { headers: withLanguage(SAME_ORIGIN_FETCH, 'is') });
    expect(json.status).toBe(403);
    expect(json.headers.get('content-language')).toBeNull();
    expect(await json.json()).toEqual({
      error: 'access_denied',
      error_description: 'The signed-in identity may not use this route.',
      code: 'access_denied',
    });
  });

  it('a delegated sign-in: both names, Icelandic letters intact and markup escaped', async () => {
    const setup = await setUpGateway({ edge: { ROUTES } });
    const company = { national_id: '5501692829', name: 'Ævarsson & <Synir> "ehf."' };
    await signIn(setup, { claims: { ...company, actor: { ...THORDUR }, delegation_type: 'c:procurator' } });
    const html = await expectPage(
      await setup.edge.fetch('/admin', { headers: withLanguage(NAVIGATION, 'is') }),
      'is',
      403,
      'Aðgangi hafnað',
    );
    expect(html).toContain(
      '<p>Þú ert skráð(ur) inn sem <strong>Þórður Ævarsson</strong> fyrir hönd <strong>Ævarsson &#38; &#60;Synir&#62; &#34;ehf.&#34;</strong>.</p>',
    );
    expect(html).not.toContain('<Synir>');
    expect(html).not.toContain(THORDUR.national_id);
  });

  it('a name that looks like a placeholder stays a name', async () => {
    const setup = await setUpGateway({ edge: { ROUTES } });
    await signIn(setup, { claims: { ...GUDRUN, name: '{who} {for} $& Þóra' } });
    const html = await (await setup.edge.fetch('/admin', { headers: withLanguage(NAVIGATION, 'en') })).text();
    expect(html).toContain('<p>You are signed in as <strong>{who} {for} $&#38; Þóra</strong>.</p>');
  });
});

describe('the delegation page', () => {
  it('in Icelandic: own text and links, never the provider text', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge, '/auth/login?prompt=delegation&return_to=/dashboard');
    const response = await setup.edge.fetch(
      callbackPath(setup, login, { code: undefined, error: 'access_denied', error_description: 'No delegations' }),
      { headers: { 'accept-language': 'is' } },
    );
    const html = await expectPage(response, 'is', 403, 'Ekkert umboð');
    expect(html).toContain('Ekkert umboð fannst fyrir þig, eða aðgangi var hafnað.');
    expect(html).toContain('<a class="button" href="/auth/login?return_to=%2Fdashboard">Skrá inn sem þú sjálf(ur)</a>');
    expect(html).toContain('<a class="button" href="/dashboard">Til baka</a>');
    expect(html).toContain('Villukóði: <code>delegation_denied</code> (HTTP 403) · <code>access_denied</code>');
    expect(html).not.toContain('No delegations');
  });
});
