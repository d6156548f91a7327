/**
 * The newcomer's path, in a real browser: `npm run dev`, open the printed URL,
 * sign in as a test user at the local Kenni-like provider, see the claims at
 * the demo origin and at `/auth/me`, switch to a delegation (acting for a
 * company) on the provider's picker and see "acting for", sign out. Then the
 * example access rules of wrangler.toml: Guðrún gets the 403 page at the admin
 * area, signs out from it, and Þórður gets in.
 *
 * Runs in Node (the `node` vitest project), drives Debian's Chromium
 * (`/usr/bin/chromium`) with playwright-core, and runs the dev stack on free
 * ports (PROVIDER_PORT, ORIGIN_PORT, EDGE_PORT) with its secrets file in a
 * temporary directory (DEV_VARS_PATH), so it neither collides with a running
 * `npm run dev` nor touches the developer's `.dev.vars`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  freePorts,
  startProcessGroup,
  stopProcessGroup as stopDevStack,
  waitForOk,
  waitForOutput,
  type ProcessGroup as DevStack,
} from '../../dev/processes.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = '/tmp/kenni-edge-dev-browser.png';
const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEVELOPER_DEV_VARS = join(PROJECT_DIR, '.dev.vars');
const THORDUR = { sub: 'dev-user-thordur', national_id: '0101302989', name: 'Þórður Ævarsson' };
const GUDRUN = { name: 'Guðrún Ólafsdóttir' };

const hasChromium = existsSync(CHROMIUM);
const SKIP_NOTE = hasChromium
  ? ''
  : ` [skipped: ${CHROMIUM} is missing; install it with \`apt-get install -y chromium\`]`;
if (!hasChromium)
  console.warn(`dev-browser.test.ts: skipping the browser test, ${CHROMIUM} is missing (apt-get install -y chromium).`);

function fingerprint(path: string): string | undefined {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : undefined;
}

/** `npm run dev`, as its own process group so afterAll can stop exactly what it started. */
function startDevStack(env: NodeJS.ProcessEnv): DevStack {
  return startProcessGroup('npm', ['run', 'dev'], { cwd: PROJECT_DIR, env });
}

/** The worker answers (wrangler may still be finishing its first build when the port opens). */
function waitForEdge(edgeUrl: string, timeoutMs: number): Promise<void> {
  return waitForOk(new URL('/auth/jwks.json', edgeUrl), timeoutMs);
}

describe('npm run dev in a browser', () => {
  let stack: DevStack | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let tempDir: string;
  let edgeUrl: string;
  let providerIssuer: string;
  const developerDevVars = fingerprint(DEVELOPER_DEV_VARS);

  beforeAll(async () => {
    if (!hasChromium) return;
    tempDir = mkdtempSync(join(tmpdir(), 'kenni-edge-dev-browser-'));
    const [providerPort, originPort, edgePort] = await freePorts(3);
    stack = startDevStack({
      ...process.env,
      PROVIDER_PORT: String(providerPort),
      ORIGIN_PORT: String(originPort),
      EDGE_PORT: String(edgePort),
      DEV_VARS_PATH: join(tempDir, '.dev.vars'),
      WRANGLER_SEND_METRICS: 'false',
      NO_COLOR: '1',
    });
    // What a newcomer reads: the issuer line, then the URL to open.
    providerIssuer = (await waitForOutput(stack, /issuer (http:\/\/127\.0\.0\.1:\d+\/dev-team\.is)/, 30_000))[1]!;
    edgeUrl = (await waitForOutput(stack, /Open (http:\/\/localhost:\d+\/) and sign in/, 90_000))[1]!;
    expect(edgeUrl).toBe(`http://localhost:${edgePort}/`);
    expect(providerIssuer).toBe(`http://127.0.0.1:${providerPort}/dev-team.is`);
    await waitForEdge(edgeUrl, 60_000);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ locale: 'is-IS', viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (stack) await stopDevStack(stack);
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  });

  it.skipIf(!hasChromium)(
    `signs in as a test user, shows the claims, acts for a company and signs out${SKIP_NOTE}`,
    async () => {
      const providerOrigin = new URL(providerIssuer).origin;
      const edgeOrigin = new URL(edgeUrl).origin;

      // The printed URL: without a session, the edge sends the browser to the provider's login page.
      await page.goto(edgeUrl);
      await page.getByRole('heading', { name: 'Innskráning / Sign in' }).waitFor();
      expect(page.url().startsWith(`${providerIssuer}/oidc/interaction/`)).toBe(true);

      await page.getByRole('button', { name: /Þórður Ævarsson/ }).click();
      await page.getByRole('heading', { name: 'Samþykki / Consent' }).waitFor();
      await page.getByRole('button', { name: 'Samþykkja / Allow' }).click();

      // Back at the printed URL: the demo origin, through the edge, shows who signed in.
      await page.waitForURL(edgeUrl);
      await page.locator('.hello').waitFor();
      const text = await page.locator('body').innerText();
      expect(text).toContain(`Halló, ${THORDUR.name}!`);
      expect(text).toContain(THORDUR.national_id);
      expect(text).toContain(THORDUR.sub);
      // The demo origin verified X-Kenni-Assertion against the edge's /auth/jwks.json.
      expect(await page.locator('td.ok').innerText()).toBe('assertion verified ✓');
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      // The session cookie: opaque, HttpOnly, Secure, Lax, on the edge only.
      const cookies = await context.cookies(edgeUrl);
      const session = cookies.find((cookie) => cookie.name === '__Host-kenni-session');
      expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
      expect(session!.value).toMatch(/^[A-Za-z0-9_-]{43,}$/);
      expect(cookies.filter((cookie) => cookie.name.startsWith('__Host-kenni-login-'))).toEqual([]);

      // /auth/me: the claims, never a token.
      const meResponse = await page.goto(new URL('/auth/me', edgeUrl).href);
      expect(meResponse?.status()).toBe(200);
      const meText = await meResponse!.text();
      const me = JSON.parse(meText) as { sub: string; claims: Record<string, unknown> };
      expect(me.sub).toBe(THORDUR.sub);
      expect(me.claims).toMatchObject({ national_id: THORDUR.national_id, name: THORDUR.name });
      expect(meText).not.toMatch(/eyJ|access_token|id_token|refresh_token/);
      expect(meText).not.toContain(session!.value);

      // Switch delegation from the demo page: the provider's picker, then the demo page says whom Þórður acts for.
      await page.goto(edgeUrl);
      await page.getByRole('link', { name: 'Skipta um umboð / switch delegation' }).click();
      const picker = page.getByRole('heading', { name: 'Umboð / Act on behalf of' });
      const login = page.getByRole('heading', { name: 'Innskráning / Sign in' });
      await picker.or(login).waitFor();
      if (await login.isVisible()) await page.getByRole('button', { name: /Þórður Ævarsson/ }).click();
      await picker.waitFor();
      await page.getByRole('button', { name: /Ævarsson ehf\./ }).click();
      const consent = page.getByRole('heading', { name: 'Samþykki / Consent' });
      await Promise.race([page.waitForURL(edgeUrl), consent.waitFor()]);
      if (await consent.isVisible()) await page.getByRole('button', { name: 'Samþykkja / Allow' }).click();
      await page.waitForURL(edgeUrl);
      const hello = await page.locator('.hello').innerText();
      expect(hello).toContain(
        `Halló, ${THORDUR.name}, í umboði fyrir / acting for Ævarsson ehf. (fyrirtæki / company)`,
      );
      expect(await page.locator('td.ok').innerText()).toBe('assertion verified ✓');
      const delegated = (await (await context.request.get(new URL('/auth/me', edgeOrigin).href)).json()) as {
        sub: string;
        actor: Record<string, unknown>;
      };
      expect(delegated.sub).not.toBe(THORDUR.sub);
      expect(delegated.actor).toEqual({ sub: THORDUR.sub, national_id: THORDUR.national_id, name: THORDUR.name });

      // Sign out from the demo page's link: the edge, then the provider, then back to the edge.
      await page.goto(edgeUrl);
      await page.getByRole('link', { name: '/auth/logout' }).click();
      // Back at the edge without a session, a page is sent to sign in again; the provider asks again too.
      await page.waitForURL((url) => url.origin === providerOrigin && url.pathname.includes('/oidc/interaction/'));
      await page.getByRole('heading', { name: 'Innskráning / Sign in' }).waitFor();
      const after = await context.cookies(edgeUrl);
      expect(after.find((cookie) => cookie.name === '__Host-kenni-session')).toBeUndefined();
      const meAfter = await context.request.get(new URL('/auth/me', edgeOrigin).href);
      expect(meAfter.status()).toBe(401);
      expect(await meAfter.json()).toMatchObject({ code: 'session_required' });

      // The developer's own .dev.vars was neither written nor changed.
      expect(fingerprint(DEVELOPER_DEV_VARS)).toBe(developerDevVars);
      expect(existsSync(join(tempDir, '.dev.vars'))).toBe(true);
    },
  );

  it.skipIf(!hasChromium)(
    `the admin area (wrangler.toml ROUTES): Guðrún gets the 403 page, signs out from it, Þórður gets in${SKIP_NOTE}`,
    async () => {
      const adminUrl = new URL('/admin/', edgeUrl).href;
      const consent = page.getByRole('heading', { name: 'Samþykki / Consent' });
      const signInAs = async (name: string) => {
        await page.getByRole('heading', { name: 'Innskráning / Sign in' }).waitFor();
        await page.getByRole('button', { name: new RegExp(name) }).click();
        await Promise.race([page.waitForURL((url) => url.origin === new URL(edgeUrl).origin), consent.waitFor()]);
        if (await consent.isVisible()) await page.getByRole('button', { name: 'Samþykkja / Allow' }).click();
      };
      await context.clearCookies();

      // Guðrún opens the admin area: the edge sends her to sign in, then answers 403 at /admin/ (no redirect loop).
      await page.goto(adminUrl);
      await signInAs(GUDRUN.name);
      await page.waitForURL(adminUrl);
      const refused = await page.goto(adminUrl);
      expect(refused?.status()).toBe(403);
      expect(page.url()).toBe(adminUrl);
      // The browser asks for Icelandic (locale is-IS), so the page is in Icelandic.
      await page.getByRole('heading', { name: 'Aðgangi hafnað' }).waitFor();
      const text = await page.locator('body').innerText();
      expect(text).toContain(`Þú ert skráð(ur) inn sem ${GUDRUN.name}.`);
      expect(text).toContain('Villukóði: access_denied (HTTP 403)');
      const switchLink = page.getByRole('link', { name: 'Skipta um umboð' });
      expect(await switchLink.getAttribute('href')).toBe('/auth/login?prompt=delegation&return_to=%2Fadmin%2F');
      const signOut = page.getByRole('button', { name: 'Skrá út' });
      await page.screenshot({ path: SCREENSHOT.replace('.png', '-403.png'), fullPage: true });

      // Her sign-out control on the 403 page ends the session (edge and provider): the provider asks who signs in.
      await signOut.click();
      await signInAs(THORDUR.name);
      await page.waitForURL(edgeUrl);
      const meAfter = (await (await context.request.get(new URL('/auth/me', edgeUrl).href)).json()) as { sub: string };
      expect(meAfter.sub).toBe(THORDUR.sub);

      // Þórður gets in: the demo origin's admin page greets him.
      await page.getByRole('link', { name: 'Stjórnborð / Admin area' }).click();
      await page.waitForURL(adminUrl);
      await page.getByRole('heading', { name: 'Stjórnborð / Admin area' }).waitFor();
      expect(await page.locator('.hello').innerText()).toBe(`Halló, ${THORDUR.name}!`);
    },
  );

  it.skipIf(!hasChromium)(
    `shows the edge's error pages in the browser's language: Icelandic for is-IS${SKIP_NOTE}`,
    async () => {
      // A callback this browser never started: the edge's own error page, no session, no loop.
      const response = await page.goto(new URL('/auth/callback?code=x&state=y', edgeUrl).href);
      expect(response?.status()).toBe(400);
      expect(response?.headers()['content-language']).toBe('is');
      expect(await page.locator('html').getAttribute('lang')).toBe('is');
      await page.getByRole('heading', { name: 'Innskráning mistókst' }).waitFor();
      expect(await page.locator('body').innerText()).toContain('Villukóði: login_state_missing (HTTP 400)');
      await page.screenshot({ path: SCREENSHOT.replace('.png', '-error-is.png'), fullPage: true });
    },
  );
});
