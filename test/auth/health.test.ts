/**
 * `GET /auth/health` (issue #13, item 3): configuration, discovery and the
 * provider's keys, each with its age; 200 `ok`, 200 `degraded` while kept
 * copies serve a provider that is down, 503 naming the failing part. The
 * exact path only, never decided by a header, no secret or value in the
 * answer, and no provider request in steady state.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createKenniEdge, kenniConfig, type AppEnv } from '../../src/index.ts';
import { coldIsolate, createTestEdge, EDGE_ORIGIN, type TestEdge } from '../support/edge.ts';
import { freezeDateEachTest, NOW, startKeyedProvider } from '../support/bearer.ts';
import { NAVIGATION } from '../support/presets.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';
import type { TestKey } from '../support/token-factory.ts';

const DISCOVERY_PATH = '/.well-known/openid-configuration';
const JWKS_PATH = '/oidc/jwks';

freezeDateEachTest();

async function setUp(): Promise<{ provider: ScriptedProvider; key: TestKey; edge: TestEdge }> {
  const { provider, key } = await startKeyedProvider();
  return { provider, key, edge: createTestEdge({ KENNI_ISSUER: provider.issuer }) };
}

async function health(
  edge: TestEdge,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const response = await edge.fetch('/auth/health', { headers, jar: false });
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(response.headers.get('set-cookie')).toBeNull();
  return { status: response.status, body: await response.json() };
}

async function providerDown(provider: ScriptedProvider): Promise<void> {
  await provider.route('GET', DISCOVERY_PATH, { status: 503, body: 'down' });
  await provider.route('GET', JWKS_PATH, { status: 503, body: 'down' });
}

async function fetchesOf(provider: ScriptedProvider): Promise<{ discovery: number; jwks: number }> {
  return {
    discovery: (await provider.requests({ path: DISCOVERY_PATH })).length,
    jwks: (await provider.requests({ path: JWKS_PATH })).length,
  };
}

const HEALTHY = {
  status: 'ok',
  configuration: 'ok',
  discovery: { status: 'ok', age_seconds: 0 },
  jwks: { status: 'ok', age_seconds: 0, keys: 1 },
};

/** Headers a probe, a browser or an attacker could send: none of them changes the answer. */
const HEADER_VARIANTS: Array<Record<string, string>> = [
  {},
  { 'user-agent': 'kube-probe/1.31' },
  { 'user-agent': 'GoogleHC/1.0' },
  { 'user-agent': 'ELB-HealthChecker/2.0' },
  { 'user-agent': 'Mozilla/5.0', ...NAVIGATION },
  { accept: 'text/html' },
  { accept: 'application/json' },
  { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'internal', 'x-forwarded-proto': 'http' },
  { 'x-forwarded-uri': '/auth/health', 'x-original-url': '/auth/health', forwarded: 'for=127.0.0.1' },
  { authorization: 'Bearer not-a-token', cookie: '__Host-kenni-session=forged' },
];

describe('GET /auth/health', () => {
  it('answers 200 ok with the age of discovery and keys, and asks the provider nothing in steady state', async () => {
    const { provider, edge } = await setUp();

    expect(await health(edge)).toEqual({ status: 200, body: HEALTHY });
    vi.setSystemTime(NOW + 90_000);
    expect(await health(edge)).toEqual({
      status: 200,
      body: {
        ...HEALTHY,
        discovery: { status: 'ok', age_seconds: 90 },
        jwks: { status: 'ok', age_seconds: 90, keys: 1 },
      },
    });
    for (let i = 0; i < 20; i++) expect((await health(edge)).status).toBe(200);

    expect(await fetchesOf(provider)).toEqual({ discovery: 1, jwks: 1 });
  });

  it('gives the same answer whatever the headers say, healthy or failing', async () => {
    const { edge } = await setUp();
    for (const headers of HEADER_VARIANTS) {
      expect(await health(edge, headers), JSON.stringify(headers)).toEqual({ status: 200, body: HEALTHY });
    }

    // Another provider, down before the edge ever read it (the first one's copies are in the Cache API).
    const { provider: downProvider, edge: broken } = await setUp();
    await providerDown(downProvider);
    const answers = [];
    for (const headers of HEADER_VARIANTS) answers.push(await health(broken, headers));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]!.status).toBe(503);
  });

  it.each([
    ['a trailing slash', '/auth/health/'],
    ['another name', '/auth/healthz'],
    ['a ";" parameter', '/auth/health;x'],
    ['another letter case', '/auth/Health'],
    ['a longer path', '/auth/health/x'],
  ])('is the exact path only: %s is not it (404)', async (_label, path) => {
    const { edge } = await setUp();

    const response = await edge.fetch(path, { jar: false });

    expect(response.status).toBe(404);
    expect(((await response.json()) as { code: string }).code).toBe('not_found');
  });

  it('answers other methods with 405 and Allow: GET', async () => {
    const { edge } = await setUp();

    const response = await edge.fetch('/auth/health', { method: 'POST', jar: false });

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
  });

  it('is degraded (200) while the provider is down and the kept copies still serve, with their age', async () => {
    const { provider, edge } = await setUp();
    expect((await health(edge)).status).toBe(200);
    await providerDown(provider);

    vi.setSystemTime(NOW + 2 * 3600_000);
    const degraded = {
      status: 'degraded',
      configuration: 'ok',
      discovery: { status: 'stale', age_seconds: 7200 },
      jwks: { status: 'stale', age_seconds: 7200, keys: 1 },
    };
    expect(await health(edge)).toEqual({ status: 200, body: degraded });
    // A new isolate in the same data centre has the Cache API copies, kept for exactly this.
    expect(await health(coldIsolate(edge))).toEqual({ status: 200, body: degraded });
  });

  it('is 503 naming discovery when the provider is down and nothing is kept, and does not hammer it', async () => {
    const { provider, key } = await setUp();
    await providerDown(provider);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const failing = {
      status: 'fail',
      failing: ['discovery'],
      configuration: 'ok',
      discovery: { status: 'unavailable', reason: 'provider_unreachable' },
      jwks: { status: 'unknown' },
    };

    for (let i = 0; i < 10; i++) expect(await health(edge)).toEqual({ status: 503, body: failing });
    expect((await fetchesOf(provider)).discovery).toBe(1);

    // After the hold, the provider is asked again: it is back.
    await provider.serveDiscovery();
    await provider.serveJwks([key]);
    vi.setSystemTime(NOW + 11_000);
    expect(await health(edge)).toEqual({ status: 200, body: HEALTHY });
    expect(await fetchesOf(provider)).toEqual({ discovery: 2, jwks: 1 });
  });

  it.each([
    {
      when: 'discovery is fine but no keys can be loaded',
      arrange: (provider: ScriptedProvider) => provider.route('GET', JWKS_PATH, { status: 503, body: 'down' }),
      jwks: { status: 'unavailable', reason: 'provider_unreachable' },
    },
    {
      when: 'the provider publishes no usable key',
      arrange: (provider: ScriptedProvider) => provider.serveJwks([]),
      jwks: { status: 'unavailable', age_seconds: 0, keys: 0, reason: 'no_keys' },
    },
  ])('is 503 naming jwks when $when', async ({ arrange, jwks }) => {
    const { provider } = await setUp();
    await arrange(provider);
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    expect(await health(edge)).toEqual({
      status: 503,
      body: {
        status: 'fail',
        failing: ['jwks'],
        configuration: 'ok',
        discovery: { status: 'ok', age_seconds: 0 },
        jwks,
      },
    });
  });

  it('is 503 naming the configuration and the variables at fault, never their values', async () => {
    const secret = 'short-secret-value';
    const issuer = 'ftp://issuer.example/team-secretive';
    const edge = createTestEdge({ KENNI_ISSUER: issuer, SESSION_SECRET: secret, SESSIONS: undefined });

    const response = await edge.fetch('/auth/health', { jar: false });
    const text = await response.text();

    expect(response.status).toBe(503);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(text)).toEqual({
      status: 'fail',
      failing: ['configuration'],
      configuration: 'invalid',
      variables: ['SESSIONS', 'KENNI_ISSUER', 'SESSION_SECRET'],
    });
    expect(text).not.toContain(secret);
    expect(text).not.toContain('secretive');
    expect(text).not.toContain('ftp');
  });

  it('works the same in your own Hono app composed with kenniConfig() (a bad configuration is still a 503)', async () => {
    const { provider } = await setUp();
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false }));
    const call = async (overrides: Record<string, unknown>) => {
      const ctx = createExecutionContext();
      const testEnv = { ...(env as unknown as Env), KENNI_ISSUER: provider.issuer, ...overrides } as Env;
      const response = await app.fetch(new Request(`${EDGE_ORIGIN}/auth/health`), testEnv, ctx);
      await waitOnExecutionContext(ctx);
      return { status: response.status, body: await response.json() };
    };

    expect(await call({})).toEqual({ status: 200, body: HEALTHY });
    expect(await call({ SESSION_SECRET: 'short' })).toEqual({
      status: 503,
      body: { status: 'fail', failing: ['configuration'], configuration: 'invalid', variables: ['SESSION_SECRET'] },
    });
  });
});
