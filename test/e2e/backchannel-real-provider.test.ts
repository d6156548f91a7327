/**
 * Back-channel logout end to end with the real local provider: a browser signs
 * in to the edge, the same browser signs in to another app of the team (the
 * SPA client, single sign-on) and signs out there; the provider then POSTs a
 * logout token to the web client's `backchannel_logout_uri`, and the edge
 * session is gone.
 *
 * The worker under test has no port the provider could reach, so the global
 * setup registers a capture server as the `backchannel_logout_uri`
 * (test/support/backchannel-capture-server.ts); this test fetches the token
 * the provider really sent and POSTs it to the edge unchanged.
 */
import { env } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { sha256Hex } from '../support/hash.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH, SESSION_COOKIE, THORDUR } from '../support/presets.ts';
import {
  authorize,
  loadDiscovery,
  POST_LOGOUT_REDIRECT_URI,
  SPA_CLIENT_ID,
  type ProviderDiscovery,
} from '../support/provider-client.ts';
import { endSessionAtProvider, signInAtProvider, type CookieJar } from '../support/provider-login.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** test/support/backchannel-capture-server.ts, started by the global setup. */
    backchannelCaptureUrl: string;
  }
}

const bindings = env as unknown as Env;

interface SignedIn {
  sessionId: string;
  kvKey: string;
  providerCookies: CookieJar;
}

/** `/auth/login`, the provider's pages, `/auth/callback`: a session at the edge and an SSO session at the provider. */
async function signInToEdge(edge: TestEdge): Promise<SignedIn> {
  const login = await edge.fetch('/auth/login', { headers: NAVIGATION });
  expect(login.status).toBe(302);
  const { callbackUrl, providerCookies } = await signInAtProvider(login.headers.get('location')!, {
    login: THORDUR.national_id,
  });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionId = edge.jar.get(SESSION_COOKIE)!;
  return { sessionId, kvKey: `session:${await sha256Hex(sessionId)}`, providerCookies };
}

/** Signs the browser out at the provider as the SPA (another app of the team), after signing in there by SSO. */
async function signOutOfOtherApp(discovery: ProviderDiscovery, providerCookies: CookieJar): Promise<void> {
  const spa = await authorize(discovery, { client_id: SPA_CLIENT_ID }, { login: THORDUR.national_id, providerCookies });
  expect(spa.pages).not.toContain('login');
  const logout = new URL(discovery.end_session_endpoint);
  logout.search = new URLSearchParams({
    client_id: SPA_CLIENT_ID,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
  }).toString();
  expect(await endSessionAtProvider(logout.href, providerCookies)).toBe(POST_LOGOUT_REDIRECT_URI);
}

/** The logout tokens the provider sent for `sid` (the provider awaits its back-channel calls before it redirects). */
async function logoutTokensFor(sid: string): Promise<string[]> {
  const response = await fetch(`${inject('backchannelCaptureUrl')}/logout-tokens`);
  const { tokens } = (await response.json()) as { tokens: string[] };
  return tokens.filter((token) => decodeJwt(token).sid === sid);
}

function me(edge: TestEdge, sessionId: string): Promise<Response> {
  return edge.fetch('/auth/me', {
    jar: false,
    headers: { ...SAME_ORIGIN_FETCH, cookie: `${SESSION_COOKIE}=${sessionId}` },
  });
}

describe('back-channel logout with the real local provider', () => {
  it('signing out of another app of the team ends the edge session', async () => {
    const discovery = await loadDiscovery(String(bindings.KENNI_ISSUER));
    const edge = createTestEdge();
    const { sessionId, kvKey, providerCookies } = await signInToEdge(edge);
    expect((await me(edge, sessionId)).status).toBe(200);
    const record = await bindings.SESSIONS.get<{ sid?: unknown }>(kvKey, 'json');
    expect(record?.sid).toBeTypeOf('string');
    const sid = String(record!.sid);

    await signOutOfOtherApp(discovery, providerCookies);

    const tokens = await logoutTokensFor(sid);
    expect(tokens).toHaveLength(1);
    expect(decodeJwt(tokens[0]!)).toMatchObject({ iss: discovery.issuer, aud: '@dev-team.is/web', sub: THORDUR.sub });
    const delivered = await edge.fetch('/auth/backchannel-logout', {
      method: 'POST',
      jar: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: tokens[0]! }).toString(),
    });
    expect(delivered.status, await delivered.clone().text()).toBe(200);

    expect(await bindings.SESSIONS.get(kvKey)).toBeNull();
    expect((await me(edge, sessionId)).status).toBe(401);
    const page = await edge.fetch('/account', {
      jar: false,
      headers: { ...NAVIGATION, cookie: `${SESSION_COOKIE}=${sessionId}` },
    });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/auth/login?return_to=%2Faccount');

    // The provider's token, sent again (a provider retry or a replay), is refused and ends nothing more.
    const again = await edge.fetch('/auth/backchannel-logout', {
      method: 'POST',
      jar: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: tokens[0]! }).toString(),
    });
    expect(again.status).toBe(400);
  });
});
