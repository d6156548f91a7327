/**
 * Discovery (issue #2): read once, then held in the isolate and in the Cache
 * API; the issuer in the document must equal KENNI_ISSUER exactly; a stale
 * isolate copy keeps serving while the provider is down.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { coldIsolate, createTestEdge, type TestEdge } from '../support/edge.ts';
import { NAVIGATION } from '../support/presets.ts';
import { createScriptedProvider, type ScriptedProvider } from '../support/scripted-provider.ts';

const DISCOVERY_PATH = '/.well-known/openid-configuration';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A scripted provider serving discovery, an edge in front of it, and one login done (discovery read once). */
async function setUpWarm(
  options: { fakeTime?: boolean } = {},
): Promise<{ provider: ScriptedProvider; edge: TestEdge; start: number; login(): Promise<number> }> {
  if (options.fakeTime) vi.useFakeTimers({ toFake: ['Date'] });
  const start = Date.now();
  const provider = await createScriptedProvider();
  await provider.serveDiscovery();
  const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
  const login = async () => (await edge.fetch('/auth/login')).status;
  expect(await login()).toBe(302);
  return { provider, edge, start, login };
}

describe('discovery', () => {
  it('is fetched once for many logins', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery();
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    for (let i = 0; i < 20; i++) expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(1);
  });

  it('is read from the Cache API by a cold isolate, without asking the provider', async () => {
    const { provider, edge: warm } = await setUpWarm();
    const edge = coldIsolate(warm); // a new isolate in the same data centre
    const login = await edge.fetch('/auth/login');
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(new RegExp(`^${provider.issuer}/oidc/auth\\?`));
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(1);
  });

  it('is fetched again after an hour', async () => {
    const { provider, edge, start } = await setUpWarm({ fakeTime: true });
    vi.setSystemTime(start + 59 * 60_000);
    expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(1);
    vi.setSystemTime(start + 61 * 60_000);
    expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(2);
  });

  it('keeps serving the isolate copy when the provider is down at refetch time', async () => {
    const { provider, edge, start } = await setUpWarm({ fakeTime: true });
    await provider.route('GET', DISCOVERY_PATH, { status: 503 });
    vi.setSystemTime(start + 2 * 3_600_000);
    const login = await edge.fetch('/auth/login');
    expect(login.status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(2);
  });

  it('refuses a document whose issuer differs from KENNI_ISSUER only by letter case', async () => {
    const provider = await createScriptedProvider();
    await provider.serveDiscovery({ issuer: provider.issuer.toUpperCase() });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
    const response = await edge.fetch('/auth/login');
    expect(response.status).toBe(502);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('Error code: <code>provider_misconfigured</code>');
  });
});

describe('a discovery document the edge cannot use', () => {
  it.each([
    ['a 404', (issuer: string) => ({ status: 404, json: { issuer } })],
    ['a body that is not JSON', () => ({ headers: { 'content-type': 'text/html' }, body: '<h1>Hello</h1>' })],
    ['a JSON array', (issuer: string) => ({ json: [{ issuer }] })],
    ['a redirect to another document', (issuer: string) => ({ status: 302, headers: { location: `${issuer}/doc` } })],
  ])(
    'is provider_misconfigured (502, no redirect to the provider) when the provider answers %s',
    async (_label, reply) => {
      const provider = await createScriptedProvider();
      await provider.serveDiscovery();
      await provider.route('GET', DISCOVERY_PATH, reply(provider.issuer));
      await provider.route('GET', '/doc', { json: { issuer: provider.issuer } });
      const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });
      const response = await edge.fetch('/auth/login');
      expect(response.status).toBe(502);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('Error code: <code>provider_misconfigured</code>');
      expect(await provider.requests({ path: '/doc' })).toHaveLength(0);
    },
  );
});

describe('the issuer of an https provider', () => {
  const HTTPS_ORIGIN = 'https://idp.kenni.test';

  /**
   * A scripted provider under the https issuer `https://idp.kenni.test/<tenant>`:
   * the edge's requests to that origin reach the tenant on 127.0.0.1 (standing
   * in for DNS and TLS), and its document names `documentIssuer` as issuer.
   */
  async function setUpHttpsProvider(
    documentIssuer: (issuer: string) => string,
  ): Promise<{ provider: ScriptedProvider; edge: TestEdge }> {
    const provider = await createScriptedProvider();
    const issuer = `${HTTPS_ORIGIN}/${provider.tenant}`;
    await provider.serveDiscovery({ issuer: documentIssuer(issuer) });
    const server = provider.issuer.slice(0, -`/${provider.tenant}`.length);
    const network = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      return network(
        url.origin === HTTPS_ORIGIN ? new Request(`${server}${url.pathname}${url.search}`, request) : request,
      );
    });
    return { provider, edge: createTestEdge({ KENNI_ISSUER: issuer }) };
  }

  it('is accepted when the document names exactly KENNI_ISSUER', async () => {
    const { provider, edge } = await setUpHttpsProvider((issuer) => issuer);
    const login = await edge.fetch('/auth/login');
    expect(login.status).toBe(302);
    expect(login.headers.get('location')!.startsWith(`${provider.endpoints.authorization_endpoint}?`)).toBe(true);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(1);
  });

  it.each([
    ['the scheme in upper case', (issuer: string) => issuer.replace('https://', 'HTTPS://')],
    ['the host in upper case', (issuer: string) => issuer.replace('idp.kenni.test', 'IDP.KENNI.TEST')],
    ['the host in mixed case', (issuer: string) => issuer.replace('idp.kenni.test', 'Idp.Kenni.test')],
    ['an explicit default port :443', (issuer: string) => issuer.replace('idp.kenni.test', 'idp.kenni.test:443')],
  ])(
    'is provider_misconfigured when the document names it with %s (the same URL, not the same string)',
    async (_name, variant) => {
      const { provider, edge } = await setUpHttpsProvider(variant);
      const response = await edge.fetch('/auth/login');
      expect(response.status).toBe(502);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('Error code: <code>provider_misconfigured</code>');
      expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(1);
    },
  );
});

describe('discovery while the provider is down', () => {
  it('is served to a cold isolate from an old Cache API copy, and retried at most once a minute', async () => {
    const { provider, edge: warm, start } = await setUpWarm({ fakeTime: true });
    await provider.route('GET', DISCOVERY_PATH, { status: 503 });
    vi.setSystemTime(start + 3 * 3_600_000); // past the TTL
    const edge = coldIsolate(warm); // a new isolate
    expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(2);
    vi.setSystemTime(start + 3 * 3_600_000 + 61_000);
    expect((await edge.fetch('/auth/login')).status).toBe(302);
    expect(await provider.requests({ path: DISCOVERY_PATH })).toHaveLength(3);
  });

  it('answers 502 when no copy is younger than a day', async () => {
    const { provider, edge: warm, start } = await setUpWarm({ fakeTime: true });
    await provider.route('GET', DISCOVERY_PATH, { status: 503 });
    vi.setSystemTime(start + 26 * 3_600_000);
    const edge = coldIsolate(warm); // a new isolate
    const response = await edge.fetch('/auth/login');
    expect(response.status).toBe(502);
    expect(await response.text()).toContain('Error code: <code>provider_unreachable</code>');
  });
});

describe('/auth/* routes', () => {
  it.each([
    ['POST', '/auth/login', 'GET'],
    ['POST', '/auth/callback', 'GET'],
    ['DELETE', '/auth/me', 'GET'],
    ['PUT', '/auth/logout', 'GET, POST'],
    ['POST', '/auth/verify', 'GET'],
  ])('answer %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const edge = createTestEdge();
    const response = await edge.fetch(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(((await response.json()) as { code: string }).code).toBe('method_not_allowed');
  });

  it.each([
    ['GET', '/auth/me/'],
    ['GET', '/auth/login/'],
    ['POST', '/auth/logout/'],
    ['GET', '/auth/jwks.json/'],
    ['GET', '/auth/verify/'],
    ['POST', '/auth/sessions/revoke/'],
    ['POST', '/auth/backchannel-logout/'],
    ['GET', '/auth/'],
  ])('answer %s %s (not the exact route) with 404, never the route it resembles', async (method, path) => {
    const edge = createTestEdge();
    const response = await edge.fetch(path, { method });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { code: string }).code).toBe('not_found');
  });

  it('answer an unknown /auth/ path with 404 JSON, never the gateway', async () => {
    const edge = createTestEdge();
    const response = await edge.fetch('/auth/unknown', { headers: NAVIGATION });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { code: string }).code).toBe('not_found');
  });
});
