/**
 * Opaque access tokens end to end against the REAL local provider
 * (dev/provider.ts), which issues them when no API scope is requested and
 * introspects them for the web client: `/auth/verify` and an API route of the
 * gateway (the demo origin) accept them with the identity of the sign-in; a
 * refresh token, a revoked token (once the cached answer ends) and a token
 * without the required API scope are refused.
 */
import { env } from 'cloudflare:test';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { OPAQUE_ACCESS_TOKEN } from '../../src/provider/introspection.ts';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { testEvents } from '../support/log-capture.ts';
import { THORDUR } from '../support/presets.ts';
import { loadDiscovery, postAsWebClient, signInForTokens, type ProviderDiscovery } from '../support/provider-client.ts';

const ISSUER = String((env as unknown as Env).KENNI_ISSUER);
const API_READ = '@dev-team.is/api.read';
/** Þórður's company on the dev provider (dev/provider/people.ts). */
const COMPANY = { sub: 'dev-party-aevarsson-ehf', national_id: '5505984269' };

let discovery: ProviderDiscovery;
/** The edge without `KENNI_API_SCOPE`: the app asks for no API scope, so Kenni's access tokens are opaque. */
let edge: TestEdge;

beforeAll(async () => {
  discovery = await loadDiscovery(ISSUER);
  edge = createTestEdge({ KENNI_API_SCOPE: undefined });
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
});

afterEach(() => {
  vi.useRealTimers();
});

async function signIn(options: { delegation?: 'company'; scope?: string } = {}) {
  const { tokens } = await signInForTokens(
    discovery,
    {
      scope: options.scope ?? 'openid profile national_id offline_access',
      ...(options.delegation ? { prompt: 'delegation consent' } : {}),
    },
    { login: THORDUR.national_id, ...(options.delegation ? { delegation: options.delegation } : {}) },
  );
  return tokens;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

function lastRejection(): Record<string, unknown> | undefined {
  return testEvents()
    .filter((entry) => entry.event === 'bearer_rejected')
    .at(-1);
}

describe('opaque access tokens from the real local provider', () => {
  it('are opaque (43 base64url characters) when no API scope is asked for, and /auth/verify accepts them', async () => {
    const { access_token: token } = await signIn();
    expect(token).toMatch(OPAQUE_ACCESS_TOKEN);

    const response = await edge.fetch('/auth/verify', bearer(token));

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe(THORDUR.sub);
    const { claims } = (await response.json()) as { claims: Record<string, unknown> };
    expect(claims).toMatchObject({ sub: THORDUR.sub, iss: ISSUER, client_id: '@dev-team.is/web' });
    expect(String(claims.scope).split(' ')).toContain('openid');
  });

  it('pass the gateway to the origin with the same identity headers and assertion as a JWT (auth "bearer")', async () => {
    const { access_token: token } = await signIn();

    const response = await edge.fetch('/api/whoami', bearer(token));

    expect(response.status).toBe(200);
    const whoami = (await response.json()) as { sub: string; bearer: boolean; identityHeaders: Record<string, string> };
    expect(whoami.sub).toBe(THORDUR.sub);
    expect(whoami.bearer).toBe(true);
    expect(whoami.identityHeaders['x-kenni-sub']).toBe(THORDUR.sub);
    expect(whoami.identityHeaders['x-kenni-auth']).toBe('bearer');
    expect(whoami.identityHeaders['x-kenni-assertion']).toMatch(/^ey/);
  });

  it('of a delegated sign-in name the represented company as the subject', async () => {
    const { access_token: token } = await signIn({ delegation: 'company' });
    expect(token).toMatch(OPAQUE_ACCESS_TOKEN);

    const response = await edge.fetch('/auth/verify', bearer(token));

    expect(response.status).toBe(200);
    expect(response.headers.get('x-kenni-sub')).toBe(COMPANY.sub);
    const { claims } = (await response.json()) as { claims: Record<string, unknown> };
    expect(claims.sub).toBe(COMPANY.sub);
    expect(claims.sub).not.toBe(THORDUR.sub);
  });

  it('need KENNI_API_SCOPE when it is configured: 403 insufficient_scope', async () => {
    const { access_token: token } = await signIn();
    const strict = createTestEdge({ KENNI_API_SCOPE: API_READ });

    const response = await strict.fetch('/api/whoami', bearer(token));

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('refuse a refresh token presented as an access token', async () => {
    const { refresh_token: refreshToken } = await signIn();
    expect(refreshToken).toMatch(OPAQUE_ACCESS_TOKEN);

    const response = await edge.fetch('/auth/verify', bearer(refreshToken!));

    expect(response.status).toBe(401);
    expect(lastRejection()).toMatchObject({ reason: 'not_an_access_token' });
  });

  it('are refused once revoked, at the latest when the cached answer (60 s) ends', async () => {
    const { access_token: token } = await signIn();
    const isolate = createTestEdge({ KENNI_API_SCOPE: undefined });
    expect((await isolate.fetch('/auth/verify', bearer(token))).status).toBe(200);
    expect((await postAsWebClient(discovery.revocation_endpoint, { token })).status).toBe(200);

    vi.setSystemTime(Date.now() + 61_000);
    const response = await isolate.fetch('/auth/verify', bearer(token));

    expect(response.status).toBe(401);
    expect(lastRejection()).toMatchObject({ reason: 'inactive' });
  });
});
