/**
 * The `npm run dev` example access rules (issue 11, item 6) end to end: the
 * `ROUTES` of the project's wrangler.toml, as wrangler reads them (handed over
 * by the global setup), run against the REAL local provider (its users, the
 * minor Sóley, Þórður's delegation for Ævarsson ehf.) and the demo origin.
 * Each refusal is the 403 page (English and Icelandic, by Accept-Language)
 * naming who is signed in (and for whom), never a redirect; each admission
 * reaches the demo origin's area page.
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { DEV_DELEGATIONS, DEV_USERS } from '../../dev/provider/people.ts';
import { parseConfig, type Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH } from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `[vars].ROUTES` of the project's wrangler.toml, as JSON (test/support/global-setup.ts). */
    devRoutes: string;
  }
}

const DEV_ROUTES = JSON.parse(inject('devRoutes')) as unknown;
const user = (sub: string) => DEV_USERS.find((candidate) => candidate.sub === sub)!;
const THORDUR = user('dev-user-thordur');
const GUDRUN = user('dev-user-gudrun');
const SOLEY = user('dev-user-soley');
const COMPANY = DEV_DELEGATIONS.find((delegation) => delegation.key === 'company')!.party;
const ASTA = DEV_DELEGATIONS.find((delegation) => delegation.key === 'person')!.party;

describe("wrangler.toml's example ROUTES", () => {
  it('parse with the rest of the configuration into the four documented rules', () => {
    // The array wrangler passes for a TOML array of inline tables, not a JSON string.
    expect(Array.isArray(DEV_ROUTES)).toBe(true);
    const config = parseConfig({ ...(env as unknown as Env), ROUTES: DEV_ROUTES } as Env);
    expect(config.routes.map((route) => [route.path, route.kind, route.rules])).toEqual([
      ['/admin/', 'page', { allow: [{ type: 'national_id', values: [THORDUR.national_id] }], require: [], deny: [] }],
      ['/adults/', 'page', { require: [{ type: 'min_age', years: 18 }], deny: [] }],
      ['/company/', 'page', { require: [{ type: 'kind', kind: 'company' }], deny: [] }],
      ['/step-up/', 'page', { require: [], deny: [] }],
    ]);
    expect(config.routes.map((route) => route.maxAuthAge)).toEqual([undefined, undefined, undefined, 60]);
  });
});

/** A new browser signed in at the real provider as `login`, optionally acting for a party. */
async function signIn(login: string, delegation?: 'company' | 'person'): Promise<TestEdge> {
  const edge = createTestEdge({ ROUTES: DEV_ROUTES });
  const query = delegation ? '?prompt=delegation&return_to=/' : '';
  const start = await edge.fetch(`/auth/login${query}`, { headers: NAVIGATION });
  expect(start.status).toBe(302);
  const { callbackUrl } = await signInAtProvider(start.headers.get('location')!, {
    login,
    ...(delegation ? { delegation } : {}),
  });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  return edge;
}

/** The 403 page for a navigation to `path`, in English and in Icelandic; a JSON request gets 403 JSON. */
async function expectRefused(edge: TestEdge, path: string): Promise<{ en: string; is: string }> {
  const logs = captureLogs();
  const pages = { en: '', is: '' };
  for (const locale of ['en', 'is'] as const) {
    const page = await edge.fetch(path, { headers: { ...NAVIGATION, 'accept-language': locale } });
    expect(page.status).toBe(403);
    expect(page.headers.get('location')).toBeNull();
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain(`<html lang="${locale}">`);
    expect(html).toContain('<form method="post" action="/auth/logout">');
    expect(html).toContain(`href="/auth/login?prompt=delegation&#38;return_to=${encodeURIComponent(path)}"`);
    pages[locale] = html;
  }
  expect(pages.en).toContain('<h1>Access denied</h1>');
  expect(pages.en).toContain('<button type="submit">Sign out</button>');
  expect(pages.is).toContain('<h1>Aðgangi hafnað</h1>');
  expect(pages.is).toContain('<button type="submit">Skrá út</button>');
  const json = await edge.fetch(path, { headers: SAME_ORIGIN_FETCH });
  expect(json.status).toBe(403);
  expect(await json.json()).toMatchObject({ error: 'access_denied' });
  expect(logs.events().filter((event) => event.event === 'access_denied')).toHaveLength(3);
  return pages;
}

/** Asserts the demo origin's area page for `path`, greeting `name`. */
async function expectAdmitted(edge: TestEdge, path: string, title: string, hello: string): Promise<void> {
  const response = await edge.fetch(path, { headers: NAVIGATION });
  const html = await response.text();
  expect(response.status, html).toBe(200);
  expect(html).toContain(`<h1 class="area">${title}</h1>`);
  expect(html).toContain(hello);
}

const signedInAs = (name: string) => `You are signed in as <strong>${name}</strong>.`;
const hello = (name: string) => `<p class="hello">Halló, <strong>${name}</strong>!</p>`;

describe('the example rules with the real local provider', () => {
  it('/admin/: Guðrún gets the 403 page naming her, Þórður gets in', async () => {
    const gudrun = await signIn(GUDRUN.national_id);
    const refused = await expectRefused(gudrun, '/admin/');
    expect(refused.en).toContain(signedInAs(GUDRUN.name));
    expect(refused.is).toContain(`Þú ert skráð(ur) inn sem <strong>${GUDRUN.name}</strong>.`);
    expect(refused.en + refused.is).not.toContain(GUDRUN.national_id);

    const thordur = await signIn(THORDUR.national_id);
    // The demo origin's home page says who is signed in and links to each area.
    const home = await (await thordur.fetch('/', { headers: NAVIGATION })).text();
    expect(home).toContain(hello(THORDUR.name));
    for (const path of ['/admin/', '/adults/', '/company/']) expect(home).toContain(`<li><a href="${path}">`);
    await expectAdmitted(thordur, '/admin/', 'Stjórnborð / Admin area', hello(THORDUR.name));
    await expectAdmitted(thordur, '/admin/users', 'Stjórnborð / Admin area', hello(THORDUR.name));
  });

  it('/adults/: Sóley (born 2012) gets the 403 page naming her, Guðrún gets in', async () => {
    const soley = await signIn(SOLEY.national_id);
    expect(((await (await soley.fetch('/auth/me')).json()) as { sub: string }).sub).toBe(SOLEY.sub);
    const refused = await expectRefused(soley, '/adults/');
    expect(refused.en).toContain(signedInAs(SOLEY.name));
    // Other routes still let her in: the rule is the route's, not a ban on the user.
    expect((await soley.fetch('/', { headers: NAVIGATION })).status).toBe(200);

    const gudrun = await signIn(GUDRUN.national_id);
    await expectAdmitted(gudrun, '/adults/', 'Aðeins fullorðnir / Adults only', hello(GUDRUN.name));
  });

  it('/company/: Þórður as himself gets the 403 page, acting for Ævarsson ehf. he gets in', async () => {
    const himself = await signIn(THORDUR.national_id);
    const refused = await expectRefused(himself, '/company/');
    expect(refused.en).toContain(signedInAs(THORDUR.name));

    const forCompany = await signIn(THORDUR.national_id, 'company');
    await expectAdmitted(
      forCompany,
      '/company/',
      'Fyrirtækjasíða / Company page',
      `Halló, <strong>${THORDUR.name}</strong>, í umboði fyrir / acting for <strong class="subject">${COMPANY.name}</strong> (fyrirtæki / company)`,
    );
    // Delegated, the subject is the company: the admin and adults areas refuse, naming both.
    for (const path of ['/admin/', '/adults/']) {
      const page = await expectRefused(forCompany, path);
      expect(page.en).toContain(
        `You are signed in as <strong>${THORDUR.name}</strong> on behalf of <strong>${COMPANY.name}</strong>.`,
      );
      expect(page.is).toContain(
        `Þú ert skráð(ur) inn sem <strong>${THORDUR.name}</strong> fyrir hönd <strong>${COMPANY.name}</strong>.`,
      );
    }
  });

  it('/adults/ follows the subject: Þórður acting for Ásta (born 1935) gets in, as for the company he does not', async () => {
    const forAsta = await signIn(THORDUR.national_id, 'person');
    await expectAdmitted(
      forAsta,
      '/adults/',
      'Aðeins fullorðnir / Adults only',
      `í umboði fyrir / acting for <strong class="subject">${ASTA.name}</strong> (einstaklingur / person)`,
    );
    const page = await expectRefused(forAsta, '/company/');
    expect(page.en).toContain(
      `You are signed in as <strong>${THORDUR.name}</strong> on behalf of <strong>${ASTA.name}</strong>.`,
    );
  });
});
