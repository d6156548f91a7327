/**
 * End to end against the REAL local Kenni-like provider (dev/provider.ts) and
 * the demo origin (dev/demo-origin.ts): a client-credentials access token
 * issued by the provider is verified at the edge (`/auth/verify`) and lets an
 * API request through the gateway with the identity the origin sees.
 */
import { env } from 'cloudflare:test';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { testEvents, testLines } from '../support/log-capture.ts';

/** The machine client of the dev provider (DEV_CLIENTS.m2m); its secret needs form-encoding. */
const M2M_CLIENT_ID = '@dev-team.is/m2m';
const M2M_CLIENT_SECRET = 'm2m:s3cret+%/x=';
const API_READ = '@dev-team.is/api.read';
const API_WRITE = '@dev-team.is/api.write';
/** Kenni's `<client_id>-api` for the edge's client `@dev-team.is/web` (test/wrangler.test.toml). */
const API_AUDIENCE = '@dev-team.is/web-api';

const bindings = env as unknown as Env;
const issuer = bindings.KENNI_ISSUER!;
const originUrl = bindings.ORIGIN_URL!;

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 wants for Basic credentials. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice('v='.length);
}

let tokenEndpoint: string;

/** A client-credentials access token from the real provider for `scope` (none: no scope parameter). */
async function clientCredentialsToken(scope?: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope !== undefined) body.set('scope', scope);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${formEncode(M2M_CLIENT_ID)}:${formEncode(M2M_CLIENT_SECRET)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
  });
  const json = (await response.json()) as { access_token?: string; token_type?: string; error?: string };
  expect(response.status, JSON.stringify(json)).toBe(200);
  expect(json.token_type).toBe('Bearer');
  return json.access_token!;
}

let edge: TestEdge;

beforeAll(async () => {
  const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(discovery.status).toBe(200);
  tokenEndpoint = ((await discovery.json()) as { token_endpoint: string }).token_endpoint;
  // The edge as test/wrangler.test.toml and vitest.config.ts configure it: the real provider, client @dev-team.is/web,
  // KENNI_API_SCOPE @dev-team.is/api.read, and the demo origin.
  edge = createTestEdge();
  expect(edge.env.KENNI_ISSUER).toBe(issuer);
  expect(edge.env.KENNI_API_SCOPE).toBe(API_READ);
});

afterEach(() => {
  vi.restoreAllMocks();
});

function rejectionReasons(): unknown[] {
  return testEvents()
    .filter((entry) => entry.event === 'bearer_rejected')
    .map((entry) => entry.reason);
}

describe('bearer tokens from the real local provider', () => {
  it('verifies a client-credentials JWT with the API scope at GET /auth/verify', async () => {
    const token = await clientCredentialsToken(API_READ);
    expect(decodeProtectedHeader(token).alg).toBe('RS256');

    const response = await edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(decodeURIComponent(response.headers.get('x-kenni-sub')!)).toBe(M2M_CLIENT_ID);
    const { claims } = (await response.json()) as { claims: Record<string, unknown> };
    expect(claims).toEqual(decodeJwt(token));
    expect(claims).toMatchObject({ iss: issuer, aud: API_AUDIENCE, client_id: M2M_CLIENT_ID, sub: M2M_CLIENT_ID });
    expect(String(claims.scope).split(' ')).toContain(API_READ);
  });

  it('lets the token through GET /api/whoami: the demo origin sees the client as X-Kenni-Sub', async () => {
    const token = await clientCredentialsToken(API_READ);

    const response = await edge.fetch('/api/whoami', {
      headers: { authorization: `Bearer ${token}`, 'x-kenni-sub': 'spoofed' },
    });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const whoami = (await response.json()) as { sub: string; bearer: boolean; identityHeaders: Record<string, string> };
    expect(whoami.sub).toBe(M2M_CLIENT_ID);
    expect(whoami.bearer).toBe(true);
    expect(whoami.identityHeaders['x-kenni-sub']).toBe(M2M_CLIENT_ID);
    expect(whoami.identityHeaders['x-kenni-auth']).toBe('bearer');
    expect(whoami.identityHeaders['x-kenni-scope']?.split(' ')).toContain(API_READ);

    // The assertion the origin got is signed by the edge key published at /auth/jwks.json.
    const jwks = (await (await edge.fetch('/auth/jwks.json')).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(whoami.identityHeaders['x-kenni-assertion']!, createLocalJWKSet(jwks), {
      issuer: EDGE_ORIGIN,
      audience: new URL(originUrl).origin,
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({ sub: M2M_CLIENT_ID, auth: 'bearer' });
  });

  it('introspects a token requested without an API scope (opaque): 403 insufficient_scope while KENNI_API_SCOPE is required', async () => {
    const token = await clientCredentialsToken();
    expect(token.split('.')).not.toHaveLength(3);

    const verify = await edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` } });
    const api = await edge.fetch('/api/whoami', { headers: { authorization: `Bearer ${token}` } });

    for (const response of [verify, api]) {
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toBe(
        `Bearer realm="kenni-edge", error="insufficient_scope", error_description="The token lacks a required scope (named in scope).", scope="${API_READ}", resource_metadata="${EDGE_ORIGIN}/.well-known/oauth-protected-resource"`,
      );
      expect(response.headers.get('x-kenni-sub')).toBeNull();
    }
    expect(rejectionReasons()).toEqual(['insufficient_scope', 'insufficient_scope']);
    expect(
      testLines()
        .map(({ text }) => text)
        .join('\n'),
    ).not.toContain(token);
  });

  it('answers 403 insufficient_scope to /auth/verify?scope=@dev-team.is/api.write with a read-only token', async () => {
    const token = await clientCredentialsToken(API_READ);

    const response = await edge.fetch(`/auth/verify?scope=${encodeURIComponent(API_WRITE)}`, {
      headers: { authorization: `Bearer ${token}` },
    });

    const description = 'The token lacks a required scope (named in scope).';
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toBe(
      `Bearer realm="kenni-edge", error="insufficient_scope", error_description="${description}", scope="${API_READ} ${API_WRITE}", resource_metadata="${EDGE_ORIGIN}/.well-known/oauth-protected-resource"`,
    );
    expect(await response.json()).toEqual({
      error: 'insufficient_scope',
      error_description: description,
      code: 'insufficient_scope',
      scope: `${API_READ} ${API_WRITE}`,
    });
  });

  it('passes /auth/verify?scope=@dev-team.is/api.write with a token granted both API scopes', async () => {
    const token = await clientCredentialsToken(`${API_READ} ${API_WRITE}`);

    const response = await edge.fetch(`/auth/verify?scope=${encodeURIComponent(API_WRITE)}`, {
      headers: { authorization: `Bearer ${token}` },
    });

    expect(response.status).toBe(200);
    expect(decodeURIComponent(response.headers.get('x-kenni-sub')!)).toBe(M2M_CLIENT_ID);
    const { claims } = (await response.json()) as { claims: { scope: string } };
    expect(claims.scope.split(' ')).toEqual(expect.arrayContaining([API_READ, API_WRITE]));
  });
});
