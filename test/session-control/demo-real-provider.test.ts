/**
 * Session control end to end with the REAL local provider and the demo origin
 * (issue 12, item 6): two browsers of one person sign in (the provider's ID
 * tokens carry `sid`, so both indexes are written), the demo page offers the
 * session list and "sign out everywhere", and that button's form ends both.
 */
import { describe, expect, it } from 'vitest';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import {
  CROSS_SITE_NAVIGATION,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SAME_ORIGIN_POST_HEADERS,
  SESSION_COOKIE,
  THORDUR,
} from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';
import { browserOf, listKv } from './helpers.ts';

async function signInThordur(browser: TestEdge): Promise<string> {
  const login = await browser.fetch('/auth/login', { headers: NAVIGATION });
  const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: THORDUR.national_id });
  const callback = await browser.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  return browser.jar.get(SESSION_COOKIE)!;
}

describe('session control with the real provider and the demo origin', () => {
  it('indexes both sessions (with sid), lists them, and the demo "sign out everywhere" form ends both', async () => {
    const edge = createTestEdge();
    const [laptop, phone] = [browserOf(edge), browserOf(edge)];
    const laptopId = await signInThordur(laptop);
    const phoneId = await signInThordur(phone);
    const keyHashes = [await sha256Hex(laptopId), await sha256Hex(phoneId)];

    const userEntries = (await listKv(`user:${await sha256Hex(THORDUR.sub)}:`)).map((entry) => entry.name);
    for (const keyHash of keyHashes) expect(userEntries.some((name) => name.endsWith(keyHash))).toBe(true);
    const sidEntries = (await listKv('sid:')).map((entry) => entry.name);
    for (const keyHash of keyHashes) expect(sidEntries.some((name) => name.endsWith(`:${keyHash}`))).toBe(true);

    const listed = await laptop.fetch('/auth/sessions', { headers: SAME_ORIGIN_FETCH });
    const { sessions } = (await listed.json()) as { sessions: Array<{ current: boolean }> };
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    expect(sessions.length).toBeGreaterThanOrEqual(2);

    const page = await laptop.fetch('/', { headers: NAVIGATION });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain("fetch('/auth/sessions'");
    expect(html).toContain(
      '<form method="post" action="/auth/logout"><input type="hidden" name="everywhere" value="1">',
    );

    // What the button sends: a same-origin form POST.
    const logout = await laptop.fetch('/auth/logout', {
      method: 'POST',
      headers: { ...SAME_ORIGIN_POST_HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'everywhere=1',
    });
    expect(logout.status).toBe(302);
    for (const [browser, id] of [
      [laptop, laptopId],
      [phone, phoneId],
    ] as const) {
      const response = await browser.fetch('/', { headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${id}` } });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('/auth/login?return_to=%2F');
    }
    for (const keyHash of keyHashes) {
      expect((await listKv('user:')).some((entry) => entry.name.endsWith(keyHash))).toBe(false);
      expect((await listKv('sid:')).some((entry) => entry.name.endsWith(keyHash))).toBe(false);
    }
  });
});
