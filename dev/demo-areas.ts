/**
 * The demo origin's restricted areas: one page per example route in
 * wrangler.toml's `ROUTES` (admin, adults only, companies only, step-up). The origin
 * does not check the rules itself: the edge answers 403 before a refused
 * request gets here, so reaching one of these pages shows the rule let you in.
 */
import { escapeHtml } from './http.ts';

/** One restricted area of the demo origin and the `ROUTES` rule that guards it at the edge. */
export interface DemoArea {
  /** The `ROUTES` path prefix (whole segments). */
  path: string;
  /** Icelandic / English heading. */
  title: string;
  /** Who the edge lets in, for people reading the page (HTML). */
  rule: string;
  /** The same in a few plain words, for the `npm run dev` banner. */
  who: string;
}

/** The areas, in the order of wrangler.toml's `ROUTES`. */
export const DEMO_AREAS: readonly DemoArea[] = [
  {
    path: '/admin/',
    title: 'Stjórnborð / Admin area',
    rule: 'Aðeins Þórður / only Þórður (<code>national_id</code>), signed in as himself',
    who: 'only Þórður',
  },
  {
    path: '/adults/',
    title: 'Aðeins fullorðnir / Adults only',
    rule: '18 ára og eldri / aged 18 or more (<code>min_age: 18</code>): not Sóley',
    who: '18 or older: not Sóley',
  },
  {
    path: '/company/',
    title: 'Fyrirtækjasíða / Company page',
    rule: 'Aðeins fyrirtæki / companies only (<code>kind: company</code>): Þórður on behalf of Ævarsson ehf. (switch delegation)',
    who: 'companies: Þórður on behalf of Ævarsson ehf.',
  },
  {
    path: '/step-up/',
    title: 'Nýleg innskráning / Recent sign-in',
    rule: 'innskráning síðustu 60 sekúndur / a sign-in at most 60 seconds old (<code>max_auth_age: 60</code>): older, and you sign in again',
    who: 'anyone signed in within the last 60 s (step-up)',
  },
];

/** The area whose prefix covers `pathname` on whole segments (`/admin` and `/admin/x`, not `/administrator`). */
export function demoAreaFor(pathname: string): DemoArea | undefined {
  return DEMO_AREAS.find((area) => pathname === area.path.slice(0, -1) || pathname.startsWith(area.path));
}

/** The body of an area's page: its heading, who is signed in (`greetingHtml`, already escaped) and the rule. */
export function demoAreaBody(area: DemoArea, greetingHtml: string): string {
  return `<h1 class="area">${escapeHtml(area.title)}</h1>
${greetingHtml}
<p>Brúnin hleypti þér inn / the edge let you in: ${area.rule}.</p>
<p><a href="/">Forsíða / Home</a></p>`;
}

/** List items linking to every area, for the home page. */
export function demoAreaLinks(): string {
  return DEMO_AREAS.map((area) => `<li><a href="${area.path}">${escapeHtml(area.title)}</a>: ${area.rule}</li>`).join(
    '\n',
  );
}
