/**
 * RFC 9728 protected resource metadata (issue #13, item 4): the document at
 * `/.well-known/oauth-protected-resource`, and `resource_metadata` in every
 * Bearer challenge on an API route (gateway API routes, `/auth/verify`, the
 * library's `requireBearer()`), so spec-following clients find Kenni on their
 * own. Page and session routes keep their plain challenge.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { kenniConfig, requireBearer, type AppEnv } from '../../src/index.ts';
import { EDGE_ORIGIN } from '../support/edge.ts';
import {
  accessToken,
  API_SCOPE,
  BEARER_CHALLENGE,
  expectJsonError,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
} from './helpers.ts';

const METADATA = `${EDGE_ORIGIN}/.well-known/oauth-protected-resource`;
const NAMED = `resource_metadata="${METADATA}"`;

describe('GET /.well-known/oauth-protected-resource', () => {
  it('names the edge as the resource, KENNI_ISSUER as its authorization server, the API scopes and header bearer tokens', async () => {
    const setup = await setUpGateway();

    const response = await setup.edge.fetch('/.well-known/oauth-protected-resource');

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.json()).toEqual({
      resource: EDGE_ORIGIN,
      authorization_servers: [setup.provider.issuer],
      scopes_supported: [API_SCOPE],
      bearer_methods_supported: ['header'],
    });
    expect(await setup.originRequests()).toEqual([]);
  });

  it('takes the public origin from KENNI_REDIRECT_URI, lists every API scope, and leaves out scopes_supported without one', async () => {
    const setup = await setUpGateway({
      edge: {
        KENNI_REDIRECT_URI: 'https://app.example.is/auth/callback',
        KENNI_API_SCOPE: '@dev-team.is/api.read @dev-team.is/api.write',
      },
    });
    const metadata = await (await setup.edge.fetch('/.well-known/oauth-protected-resource')).json();
    expect(metadata).toEqual({
      resource: 'https://app.example.is',
      authorization_servers: [setup.provider.issuer],
      scopes_supported: ['@dev-team.is/api.read', '@dev-team.is/api.write'],
      bearer_methods_supported: ['header'],
    });
    const missing = await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });
    expect(missing.headers.get('www-authenticate')).toBe(
      'Bearer realm="kenni-edge", resource_metadata="https://app.example.is/.well-known/oauth-protected-resource"',
    );

    const noScopes = await setUpGateway({ edge: { KENNI_API_SCOPE: undefined } });
    expect(await (await noScopes.edge.fetch('/.well-known/oauth-protected-resource')).json()).toEqual({
      resource: EDGE_ORIGIN,
      authorization_servers: [noScopes.provider.issuer],
      bearer_methods_supported: ['header'],
    });
  });

  it('is the edge’s own path: other methods get 405 and nothing reaches the origin', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('POST', '/.well-known/oauth-protected-resource', { status: 200, body: 'origin' });

    const response = await setup.edge.fetch('/.well-known/oauth-protected-resource', { method: 'POST' });

    await expectJsonError(response, 405, 'method_not_allowed');
    expect(response.headers.get('allow')).toBe('GET');
    expect(await setup.originRequests()).toEqual([]);
  });
});

describe('resource_metadata in Bearer challenges', () => {
  it('is named in every challenge of a gateway API route: no token, a bad token, a missing scope, no session', async () => {
    const setup = await setUpGateway({ edge: { KENNI_API_SCOPE: `${API_SCOPE} @dev-team.is/api.write` } });

    const missing = await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });
    await expectJsonError(missing, 401, 'session_required');
    expect(missing.headers.get('www-authenticate')).toBe(`Bearer realm="kenni-edge", ${NAMED}`);

    const forged = await setup.edge.fetch('/api/orders', { headers: { authorization: 'Bearer abc.def.ghi' } });
    await expectJsonError(forged, 401, 'bearer_invalid');
    expect(forged.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="invalid_token", error_description="The token header is not valid.", ${NAMED}`,
    );

    const malformed = await setup.edge.fetch('/api/orders', { headers: { authorization: 'Bearer a b' } });
    await expectJsonError(malformed, 400, 'bearer_malformed');
    expect(malformed.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="invalid_request", error_description="The Authorization header is not \\"Bearer <token>\\".", ${NAMED}`,
    );

    const token = await accessToken(setup, { scope: API_SCOPE });
    const insufficient = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` } });
    const body = await expectJsonError(insufficient, 403, 'insufficient_scope');
    expect(insufficient.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="insufficient_scope", error_description="${String(body.error_description)}", scope="${API_SCOPE} @dev-team.is/api.write", ${NAMED}`,
    );
    expect(await setup.originRequests()).toEqual([]);
  });

  it('is named by /auth/verify, and not by session routes or page routes (their challenge stays plain)', async () => {
    const setup = await setUpGateway();

    const verify = await setup.edge.fetch('/auth/verify');
    await expectJsonError(verify, 401, 'bearer_missing');
    expect(verify.headers.get('www-authenticate')).toBe(`Bearer realm="kenni-edge", ${NAMED}`);

    const me = await setup.edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    await expectJsonError(me, 401, 'session_required');
    expect(me.headers.get('www-authenticate')).toBe(BEARER_CHALLENGE);

    const page = await setup.edge.fetch('/account', { headers: SAME_ORIGIN_FETCH });
    await expectJsonError(page, 401, 'session_required');
    expect(page.headers.get('www-authenticate')).toBe(BEARER_CHALLENGE);
  });

  it('leaves a passing API request alone (session or bearer)', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/api/orders', { status: 200, json: { ok: true } });
    const token = await accessToken(setup);

    const bearer = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` }, jar: false });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('www-authenticate')).toBeNull();
    await signIn(setup);
    const session = await setup.edge.fetch('/api/orders', { headers: SAME_ORIGIN_FETCH });
    expect(session.status).toBe(200);
    expect(session.headers.get('www-authenticate')).toBeNull();
  });

  it('is named by requireBearer() in your own app, with or without onError', async () => {
    const setup = await setUpGateway();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.get('/api/orders', requireBearer(), (c) => c.json({ ok: true }));
    const testEnv = { ...(env as unknown as Env), KENNI_ISSUER: setup.provider.issuer } as Env;
    const call = async (headers: Record<string, string>) => {
      const ctx = createExecutionContext();
      const response = await app.fetch(new Request(`${EDGE_ORIGIN}/api/orders`, { headers }), testEnv, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };

    const missing = await call({});
    await expectJsonError(missing, 401, 'bearer_missing');
    expect(missing.headers.get('www-authenticate')).toBe(`Bearer realm="kenni-edge", ${NAMED}`);
    const forged = await call({ authorization: 'Bearer abc.def.ghi' });
    await expectJsonError(forged, 401, 'bearer_invalid');
    expect(forged.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="invalid_token", error_description="The token header is not valid.", ${NAMED}`,
    );
  });
});
