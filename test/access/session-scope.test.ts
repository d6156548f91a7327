/**
 * The `scope` condition for sessions (issue 11): the session keeps the scope
 * granted at login (the token response's `scope`, else the scope the login
 * asked for: RFC 6749 §5.1) and at refresh (omitted: unchanged, §6); a record
 * written before scopes were kept fails a `scope` rule closed.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION } from '../support/presets.ts';
import { logInAt, type ScriptedLogin } from '../support/scripted-login.ts';
import { tokenResponse, type ScriptedProvider } from '../support/scripted-provider.ts';
import { API_SCOPE, expectErrorPage, expectJsonError } from '../gateway/helpers.ts';
import {
  API_FETCH,
  createRefreshProvider,
  idTokenFor,
  NAVIGATION,
  providerKey,
  readRecord,
  SAME_ORIGIN_POST,
  scriptedBindings,
} from '../refresh/helpers.ts';

const ORDERS_READ = 'orders:read';
/** `/account` for sessions granted `orders:read`, `/api/x` for those granted the API scope. */
const ROUTES = [
  { path: '/account', require: [{ scope: [ORDERS_READ] }] },
  { path: '/api/x', api: true, require: [{ scope: [API_SCOPE] }] },
];

async function signedIn(
  scope: string | undefined,
): Promise<{ provider: ScriptedProvider; edge: TestEdge } & ScriptedLogin> {
  const provider = await createRefreshProvider();
  const edge = createTestEdge(scriptedBindings(provider, { ROUTES: JSON.stringify(ROUTES) }));
  const login = await logInAt(edge, provider, await providerKey(), {
    loginHeaders: NAVIGATION,
    callbackHeaders: CROSS_SITE_NAVIGATION,
    token: { access_token: 'AT1', refresh_token: 'R1', expires_in: 3600, ...(scope ? { scope } : {}) },
  });
  return { provider, edge, ...login };
}

describe('the scope condition for sessions', () => {
  it('holds for a scope the token response granted; a scope it did not grant is 403 access_denied (never insufficient_scope)', async () => {
    const { edge, kvKey } = await signedIn(`openid ${ORDERS_READ}`);
    expect((await readRecord(kvKey))!.scope).toBe(`openid ${ORDERS_READ}`);

    expect((await edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);
    const refused = await edge.fetch('/api/x', { headers: API_FETCH });
    const body = await expectJsonError(refused, 403, 'access_denied');
    expect(body.error).toBe('access_denied');
    expect(refused.headers.get('www-authenticate')).toBeNull();
  });

  it('a token response without scope granted the scope the login asked for (KENNI_SCOPE and the API scopes)', async () => {
    const { edge, kvKey, authorize } = await signedIn(undefined);
    const asked = authorize.searchParams.get('scope')!;
    expect(asked.split(' ')).toContain(API_SCOPE);
    expect((await readRecord(kvKey))!.scope).toBe(asked);

    expect((await edge.fetch('/api/x', { headers: API_FETCH })).status).toBe(200);
    await expectErrorPage(await edge.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');
  });

  it('a refresh that grants less takes the scope away; a refresh that names none keeps it', async () => {
    const { provider, edge, kvKey } = await signedIn(`openid ${ORDERS_READ}`);
    const refresh = async (fields: { scope?: string }) => {
      await provider.serveToken(
        tokenResponse({ access_token: 'AT2', expires_in: 3600, id_token: await idTokenFor(provider), ...fields }),
      );
      expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);
    };

    await refresh({});
    expect((await readRecord(kvKey))!.scope).toBe(`openid ${ORDERS_READ}`);
    expect((await edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);

    await refresh({ scope: 'openid' });
    expect((await readRecord(kvKey))!.scope).toBe('openid');
    await expectErrorPage(await edge.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');
  });

  it('a record written before scopes were kept fails a scope rule closed', async () => {
    const { edge, kvKey } = await signedIn(`openid ${ORDERS_READ}`);
    const kv = (env as unknown as Env).SESSIONS;
    const { scope: _dropped, ...older } = (await readRecord(kvKey))!;
    await kv.put(kvKey, JSON.stringify(older));
    const cold = coldIsolate(edge); // a new isolate: reads the record from KV

    await expectErrorPage(await cold.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');
  });
});
