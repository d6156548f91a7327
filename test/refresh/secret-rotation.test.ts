/**
 * Rotating SESSION_SECRET (issue 13, item 7): with the old secret in
 * SESSION_SECRET_PREVIOUS, sessions and pending logins sealed under it keep
 * working, and a session's tokens are re-sealed under the new secret at their
 * next write (a refresh). Without it, an old session is simply no session:
 * 302 to the login or 401, never a 500.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProviderTokens } from '../../src/provider/client.ts';
import { openRecordTokens } from '../support/session-record.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { logInAt } from '../support/scripted-login.ts';
import {
  API_FETCH,
  NAVIGATION,
  SAME_ORIGIN_POST,
  bindings,
  createRefreshProvider,
  logIn,
  originRequests,
  providerKey,
  readRecord,
  refreshReply,
  scriptedBindings,
} from './helpers.ts';

/** The secret the sessions of this file are created under (the test binding). */
const SECRET_A = String(bindings.SESSION_SECRET);
/** The new secret after the rotation. */
const SECRET_B = 'rotated-secret-B-0123456789abcdefghijklmnop';

afterEach(() => {
  vi.useRealTimers();
});

/** Opens a KV record's tokens with exactly one secret (no fallback). */
async function openWith(secret: string, kvKey: string, keyHash: string): Promise<ProviderTokens | undefined> {
  const record = await readRecord(kvKey);
  expect(record).not.toBeNull();
  return openRecordTokens(record!, keyHash, secret);
}

describe('SESSION_SECRET rotated with SESSION_SECRET_PREVIOUS', () => {
  it('keeps a session sealed under the old secret (page, API, refresh) and re-seals it under the new one', async () => {
    const provider = await createRefreshProvider();
    const before = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(before, provider, { accessToken: 'AT1', refreshToken: 'R1' });
    expect(await openWith(SECRET_A, logged.kvKey, logged.keyHash)).toMatchObject({ access_token: 'AT1' });

    // A new deployment: B seals, A (among other old secrets) still opens.
    const after = createTestEdge(
      scriptedBindings(provider, {
        SESSION_SECRET: SECRET_B,
        SESSION_SECRET_PREVIOUS: `older-secret-0123456789abcdefghijklmn, ${SECRET_A}`,
      }),
    );
    const jar = before.jar;

    const page = await after.fetch('/account', { headers: NAVIGATION, jar });
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<p>account</p>');

    const api = await after.fetch('/api/x', { headers: API_FETCH, jar });
    expect(api.status).toBe(200);
    expect((await originRequests(provider)).at(-1)?.headers.authorization).toBe('Bearer AT1');

    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', refresh_token: 'R2' }));
    const refreshed = await after.fetch('/auth/refresh', { ...SAME_ORIGIN_POST, jar });
    expect(refreshed.status).toBe(200);

    // The refresh wrote the tokens sealed under B only.
    expect(await openWith(SECRET_A, logged.kvKey, logged.keyHash)).toBeUndefined();
    expect(await openWith(SECRET_B, logged.kvKey, logged.keyHash)).toMatchObject({
      access_token: 'AT2',
      refresh_token: 'R2',
    });
    // And a later isolate with B alone (the rotation finished) still serves it.
    const finished = createTestEdge(scriptedBindings(provider, { SESSION_SECRET: SECRET_B }));
    const me = await finished.fetch('/auth/me', { headers: API_FETCH, jar });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: logged.sub });
  });

  it('completes a login started under the old secret', async () => {
    const provider = await createRefreshProvider();
    const before = createTestEdge(scriptedBindings(provider));
    const after = createTestEdge(
      scriptedBindings(provider, { SESSION_SECRET: SECRET_B, SESSION_SECRET_PREVIOUS: SECRET_A }),
    );
    // /auth/login runs before the deployment, /auth/callback after it, in one browser.
    const browser = splitEdge(before, after);

    const logged = await logInAt(browser, provider, await providerKey(), { loginHeaders: NAVIGATION });

    expect(await openWith(SECRET_B, logged.kvKey, logged.keyHash)).toMatchObject({ access_token: logged.accessToken });
    expect(await openWith(SECRET_A, logged.kvKey, logged.keyHash)).toBeUndefined();
  });
});

describe('SESSION_SECRET changed without SESSION_SECRET_PREVIOUS', () => {
  it('treats a session sealed under the old secret as no session: 302 for a page, 401 for an API, never 500', async () => {
    const provider = await createRefreshProvider();
    const before = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(before, provider);
    const after = createTestEdge(scriptedBindings(provider, { SESSION_SECRET: SECRET_B }));
    const jar = before.jar;

    const page = await after.fetch('/account', { headers: NAVIGATION, jar });
    expect(page.status).toBe(302);
    expect(new URL(page.headers.get('location')!, 'http://x').pathname).toBe('/auth/login');

    const api = await after.fetch('/api/x', { headers: API_FETCH, jar });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ code: 'session_required' });

    const refresh = await after.fetch('/auth/refresh', { ...SAME_ORIGIN_POST, jar });
    expect(refresh.status).toBe(401);

    const me = await after.fetch('/auth/me', { headers: API_FETCH, jar });
    expect(me.status).toBe(401);
    expect((await originRequests(provider)).length).toBe(0);
    // The record stays: putting the old secret back (a rollback) brings the session back.
    expect(await openWith(SECRET_A, logged.kvKey, logged.keyHash)).toMatchObject({ access_token: 'AT1' });
  });

  it('refuses a login started under the old secret with 400 login_state_invalid', async () => {
    const provider = await createRefreshProvider();
    const before = createTestEdge(scriptedBindings(provider));
    const after = createTestEdge(scriptedBindings(provider, { SESSION_SECRET: SECRET_B }));
    const login = await before.fetch('/auth/login', { headers: NAVIGATION });
    const state = new URL(login.headers.get('location')!).searchParams.get('state')!;

    const callback = await after.fetch(
      `/auth/callback?${new URLSearchParams({ code: 'c', state, iss: provider.issuer })}`,
      {
        headers: NAVIGATION,
        jar: before.jar,
      },
    );

    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain('login_state_invalid');
  });
});

/** One browser (one cookie jar) whose `/auth/login` goes to `first` and every other request to `second`. */
function splitEdge(first: TestEdge, second: TestEdge): TestEdge {
  return {
    env: second.env,
    jar: first.jar,
    fetch: (path, init = {}) =>
      (path.startsWith('/auth/login') ? first : second).fetch(path, { jar: first.jar, ...init }),
  };
}
