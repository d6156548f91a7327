/**
 * The gateway end to end (issue #4), against the REAL local Kenni-like
 * provider (dev/provider.ts) and the demo origin (dev/demo-origin.ts), both
 * started by the global setup and bound by default: a browser signs in, browses
 * a protected page and calls the API with its session; a machine calls the API
 * with a client-credentials token from the provider.
 *
 * The demo origin cannot fetch `https://edge.test/auth/jwks.json`, so the
 * assertions it receives are verified here against the worker's own key set.
 */
import { env } from 'cloudflare:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH, SESSION_COOKIE, THORDUR } from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';

const bindings = env as unknown as Env;
const ISSUER = String(bindings.KENNI_ISSUER);
const DEMO_ORIGIN = new URL(String(bindings.ORIGIN_URL)).origin;

/** The dev provider's machine client (DEV_CLIENTS.m2m): its secret needs form-encoding for Basic. */
const M2M_CLIENT_ID = '@dev-team.is/m2m';
const M2M_CLIENT_SECRET = 'm2m:s3cret+%/x=';
const API_READ = '@dev-team.is/api.read';

interface Whoami {
  sub?: string;
  national_id?: string;
  name?: string;
  bearer: boolean;
  identityHeaders: Record<string, string>;
}

interface Echo {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  bodyLength: number;
}

let tokenEndpoint: string;

beforeAll(async () => {
  const response = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  const discovery = (await response.json()) as { issuer: string; token_endpoint: string };
  expect(discovery.issuer).toBe(ISSUER);
  tokenEndpoint = discovery.token_endpoint;
});

/** `application/x-www-form-urlencoded` encoding of one value (RFC 6749 §2.3.1, for Basic credentials). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice('v='.length);
}

/** A client-credentials access token from the real provider. */
async function clientCredentialsToken(scope?: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) body.set('scope', scope);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${formEncode(M2M_CLIENT_ID)}:${formEncode(M2M_CLIENT_SECRET)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
  });
  const json = (await response.json()) as { access_token?: string; token_type?: string };
  expect(response.status, JSON.stringify(json)).toBe(200);
  expect(json.token_type).toBe('Bearer');
  return json.access_token!;
}

async function verifyAssertion(edge: TestEdge, assertion: string | undefined) {
  expect(assertion).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
  const jwks = (await (await edge.fetch('/auth/jwks.json', { jar: false })).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(assertion!, createLocalJWKSet(jwks), {
    issuer: EDGE_ORIGIN,
    audience: DEMO_ORIGIN,
    algorithms: ['ES256'],
  });
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  return payload;
}

describe('the gateway with the real provider and the demo origin', () => {
  it("signs a browser in from a protected page, then serves pages and the API with the session's identity", async () => {
    const edge = createTestEdge();

    // A protected page without a session: to login, and back to it afterwards.
    const protectedPage = await edge.fetch('/?from=e2e', { headers: NAVIGATION });
    expect(protectedPage.status).toBe(302);
    expect(protectedPage.headers.get('location')).toBe('/auth/login?return_to=%2F%3Ffrom%3De2e');
    const login = await edge.fetch(protectedPage.headers.get('location')!, { headers: NAVIGATION });
    expect(login.status).toBe(302);
    const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: THORDUR.national_id });
    const callback = await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION });
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect(callback.headers.get('location')).toBe('/?from=e2e');
    expect(edge.jar.get(SESSION_COOKIE)).toMatch(/^[\w-]{43}$/);

    // The page: the demo origin greets the user from the identity headers.
    const page = await edge.fetch('/?from=e2e', { headers: NAVIGATION });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain(`Halló, <strong>${THORDUR.name}</strong>!`);
    expect(html).toContain(`<th>X-Kenni-Sub</th><td><code>${THORDUR.sub}</code></td>`);
    expect(html).toContain(`<th>X-Kenni-National-Id</th><td><code>${THORDUR.national_id}</code></td>`);
    expect(html).not.toContain('no X-Kenni-Assertion header');

    // The API with the session: the origin gets the session's access token as a bearer, and the identity.
    const whoamiResponse = await edge.fetch('/api/whoami', {
      headers: { ...SAME_ORIGIN_FETCH, 'x-kenni-sub': 'spoofed', 'x-kenni-name': 'Spoofed' },
    });
    expect(whoamiResponse.status).toBe(200);
    const whoami = (await whoamiResponse.json()) as Whoami;
    expect(whoami).toMatchObject({
      bearer: true,
      sub: THORDUR.sub,
      national_id: THORDUR.national_id,
      name: THORDUR.name,
    });
    expect(whoami.identityHeaders['x-kenni-auth']).toBe('session');
    expect(decodeURIComponent(whoami.identityHeaders['x-kenni-name']!)).toBe(THORDUR.name);
    const payload = await verifyAssertion(edge, whoami.identityHeaders['x-kenni-assertion']);
    expect(payload).toMatchObject({
      sub: THORDUR.sub,
      name: THORDUR.name,
      national_id: THORDUR.national_id,
      auth: 'session',
    });

    // A state-changing API call from the edge's own page: method, query and body arrive; the edge's cookie does not.
    const body = JSON.stringify({ order: 'kleinur', count: 12 });
    const echoResponse = await edge.fetch('/api/echo?lang=is&x=1&x=2', {
      method: 'POST',
      headers: {
        ...SAME_ORIGIN_FETCH,
        origin: EDGE_ORIGIN,
        'content-type': 'application/json',
        cookie: `theme=dark; ${SESSION_COOKIE}=${edge.jar.get(SESSION_COOKIE)!}`,
        'cf-connecting-ip': '203.0.113.7',
      },
      body,
    });
    expect(echoResponse.status).toBe(200);
    const echo = (await echoResponse.json()) as Echo;
    expect(echo).toMatchObject({
      method: 'POST',
      path: '/api/echo',
      query: { lang: 'is', x: ['1', '2'] },
      bodyLength: new TextEncoder().encode(body).byteLength,
    });
    expect(echo.headers.cookie).toBe('theme=dark');
    expect(echo.headers.authorization).toBe('Bearer [redacted]');
    expect(echo.headers['x-kenni-sub']).toBe(THORDUR.sub);
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(echo.headers['x-forwarded-host']).toBe('edge.test');
    expect(echo.headers['x-forwarded-proto']).toBe('https');

    // The same call from another site, on the cookie alone: refused.
    const forged = await edge.fetch('/api/echo', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      body,
    });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ code: 'cross_site_request' });

    // A public page: no identity at all, even with the session cookie and spoofed headers.
    const publicPage = await edge.fetch('/public/hello', {
      headers: { ...NAVIGATION, 'x-kenni-sub': 'spoofed', X_Kenni_Sub: 'spoofed' },
    });
    expect(publicPage.status).toBe(200);
    expect(await publicPage.text()).toContain('identity headers received: engir / none');
  });

  it('lets a client-credentials token from the provider (Basic auth per RFC 6749 §2.3.1) call the API as the machine client', async () => {
    const edge = createTestEdge();
    const token = await clientCredentialsToken(API_READ);
    expect(decodeJwt(token)).toMatchObject({ iss: ISSUER, client_id: M2M_CLIENT_ID });

    const response = await edge.fetch('/api/whoami', {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'x-kenni-sub': 'dev-user-thordur' },
    });

    expect(response.status).toBe(200);
    const whoami = (await response.json()) as Whoami;
    expect(whoami.bearer).toBe(true);
    expect(whoami.sub).toBe(M2M_CLIENT_ID);
    expect(whoami.identityHeaders['x-kenni-auth']).toBe('bearer');
    expect(whoami.identityHeaders['x-kenni-scope']!.split(' ')).toContain(API_READ);
    expect(whoami.identityHeaders['x-kenni-national-id']).toBeUndefined();
    const payload = await verifyAssertion(edge, whoami.identityHeaders['x-kenni-assertion']);
    expect(payload).toMatchObject({ sub: M2M_CLIENT_ID, auth: 'bearer' });

    // The same token is no session: pages stay closed to it.
    const page = await edge.fetch('/', { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    expect(page.status).toBe(401);
  });

  it('refuses a provider token issued without the API scope (opaque, introspected) with 403 insufficient_scope', async () => {
    const edge = createTestEdge();
    const token = await clientCredentialsToken();

    const response = await edge.fetch('/api/whoami', {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="kenni-edge", error="insufficient_scope"/);
    expect(await response.json()).toMatchObject({ code: 'insufficient_scope', error: 'insufficient_scope' });
  });
});
