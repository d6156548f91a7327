/**
 * Refresh end to end against the real local provider (dev/provider.ts, which
 * rotates refresh tokens and revokes the grant when one is reused): a
 * confidential client through the SESSION_LOCKS Durable Object (the default
 * bindings), and the public client `@dev-team.is/spa` (PKCE only, auth
 * method `none`), whose refresh sends no Authorization header at all.
 */
import { env } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import type { ProviderTokens } from '../../src/provider/client.ts';
import { sha256Hex } from '../../src/session/seal.ts';
import type { SessionRecord } from '../../src/session/store.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, GUDRUN, NAVIGATION, SAME_ORIGIN_FETCH, SESSION_COOKIE } from '../support/presets.ts';
import { endSessionAtProvider, signInAtProvider, type CookieJar } from '../support/provider-login.ts';
import { openRecordTokens, openedRecord } from '../support/session-record.ts';

const bindings = env as unknown as Env;
const ISSUER = String(bindings.KENNI_ISSUER);

const REFRESH: RequestInit = { method: 'POST', headers: { ...SAME_ORIGIN_FETCH, origin: EDGE_ORIGIN } };

async function loginAs(
  edge: TestEdge,
  user: { national_id: string },
): Promise<{ sessionId: string; kvKey: string; keyHash: string; providerCookies: CookieJar }> {
  const login = await edge.fetch('/auth/login', { headers: NAVIGATION });
  expect(login.status).toBe(302);
  const { callbackUrl, providerCookies } = await signInAtProvider(login.headers.get('location')!, {
    login: user.national_id,
  });
  const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const sessionId = edge.jar.get(SESSION_COOKIE)!;
  const keyHash = await sha256Hex(sessionId);
  return { sessionId, keyHash, kvKey: `session:${keyHash}`, providerCookies };
}

async function tokensInKv(logged: { kvKey: string; keyHash: string }): Promise<ProviderTokens | undefined> {
  const record = await bindings.SESSIONS.get<SessionRecord>(logged.kvKey, 'json');
  if (!record) return undefined;
  return openRecordTokens(record, logged.keyHash);
}

describe('refresh against the real local provider', () => {
  it("refreshes a confidential client's session through SESSION_LOCKS; the new access token verifies at the edge and reaches the origin", async () => {
    const edge = createTestEdge();
    const logged = await loginAs(edge, GUDRUN);
    const before = (await tokensInKv(logged))!;

    const response = await edge.fetch('/auth/refresh', REFRESH);

    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { expires_at: number };
    expect(Object.keys(body)).toEqual(['expires_at']);
    const after = (await tokensInKv(logged))!;
    expect(body.expires_at).toBe(after.expires_at);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(decodeJwt(after.access_token)).toMatchObject({ iss: ISSUER, sub: GUDRUN.sub, aud: '@dev-team.is/web-api' });
    // The refreshed ID token's claims replace the session's: the real provider's still name the person, and the grant's scope is kept.
    const record = (await openedRecord(logged.kvKey))!;
    expect(record.claims).toMatchObject({ sub: GUDRUN.sub, national_id: GUDRUN.national_id, name: GUDRUN.name });
    expect(record.scope!.split(' ')).toEqual(
      expect.arrayContaining(['openid', 'national_id', '@dev-team.is/api.read']),
    );

    const verified = await edge.fetch('/auth/verify', {
      headers: { authorization: `Bearer ${after.access_token}` },
      jar: false,
    });
    expect(verified.status).toBe(200);
    const whoami = await edge.fetch('/api/whoami', { headers: SAME_ORIGIN_FETCH });
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toMatchObject({ bearer: true, sub: GUDRUN.sub, name: GUDRUN.name });

    // The rotated refresh token works again (the old one was never sent twice, or the grant would be revoked).
    expect((await edge.fetch('/auth/refresh', REFRESH)).status).toBe(200);
    expect((await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
  });

  it('signs in as the public client, refreshes without client authentication, and logs out with client_id', async () => {
    // SESSION_LOCKS removed: the Durable Object refreshes with its own bindings, whose client is @dev-team.is/web.
    const edge = createTestEdge({
      KENNI_CLIENT_ID: '@dev-team.is/spa',
      KENNI_CLIENT_SECRET: undefined,
      SESSION_LOCKS: undefined,
    });
    const logged = await loginAs(edge, GUDRUN);
    const before = (await tokensInKv(logged))!;
    expect(before.refresh_token).toMatch(/^[\w-]{20,}$/);

    const first = await edge.fetch('/auth/refresh', REFRESH);
    expect(first.status, await first.clone().text()).toBe(200);
    expect(Object.keys((await first.json()) as object)).toEqual(['expires_at']);
    const afterFirst = (await tokensInKv(logged))!;
    expect(afterFirst.access_token).not.toBe(before.access_token);
    expect(afterFirst.refresh_token).not.toBe(before.refresh_token);

    const second = await edge.fetch('/auth/refresh', REFRESH);
    expect(second.status, await second.clone().text()).toBe(200);
    expect((await tokensInKv(logged))!.refresh_token).not.toBe(afterFirst.refresh_token);

    const me = await edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ sub: GUDRUN.sub });

    const logout = await edge.fetch('/auth/logout', { headers: NAVIGATION });
    expect(logout.status).toBe(302);
    const endSession = new URL(logout.headers.get('location')!);
    expect(endSession.searchParams.get('client_id')).toBe('@dev-team.is/spa');
    expect(decodeJwt(endSession.searchParams.get('id_token_hint')!)).toMatchObject({
      sub: GUDRUN.sub,
      aud: '@dev-team.is/spa',
    });
    expect(await endSessionAtProvider(endSession.href, logged.providerCookies)).toBe(`${EDGE_ORIGIN}/`);
    expect(await bindings.SESSIONS.get(logged.kvKey)).toBeNull();
  });
});
