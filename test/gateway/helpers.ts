/**
 * Shared steps for the gateway tests: a scripted provider tenant that is both
 * the issuer and the origin (`ORIGIN_URL = <tenant>/origin`, so the edge
 * forwards `/x` to `<tenant>/origin/x`, recorded with path `/origin/x`), a
 * worker under test pointed at both, a scripted login, and client-side calls
 * to the scripted server's streaming and port controls.
 */
import { expect } from 'vitest';
import { createTestEdge, type TestEdge } from '../support/edge.ts';
import { CROSS_SITE_NAVIGATION, NAVIGATION } from '../support/presets.ts';
import type { RecordedRequest, Reply, ScriptedProvider } from '../support/scripted-provider.ts';
import { createLoginProvider, logInAt } from '../support/scripted-login.ts';
import { makeAccessTokenClaims, signJwt, type Claims, type TestKey } from '../support/token-factory.ts';

export { SESSION_COOKIE } from '../support/scripted-login.ts';

/** The client id test/wrangler.test.toml configures (Kenni-like: `@` and `/`). */
export const CLIENT_ID = '@dev-team.is/web';
/** Kenni's `<client_id>-api`: the default `KENNI_API_AUDIENCE`. */
export const API_AUDIENCE = '@dev-team.is/web-api';
/** `KENNI_API_SCOPE` in test/wrangler.test.toml. */
export const API_SCOPE = '@dev-team.is/api.read';
/** Prefix of the login-transaction cookies. */
export const LOGIN_COOKIE_PREFIX = '__Host-kenni-login-';
/** The exact challenge of a 401 without a token (RFC 6750 §3). */
export const BEARER_CHALLENGE = 'Bearer realm="kenni-edge"';
/** The same challenge on an API route, naming the protected resource metadata (RFC 9728 §5.1). */
export const API_BEARER_CHALLENGE = `${BEARER_CHALLENGE}, resource_metadata="https://edge.test/.well-known/oauth-protected-resource"`;

export { CROSS_SITE_NAVIGATION, NAVIGATION, SAME_ORIGIN_FETCH } from '../support/presets.ts';

/** A scripted issuer that is also the origin, and an edge in front of it. */
export interface GatewaySetup {
  provider: ScriptedProvider;
  key: TestKey;
  edge: TestEdge;
  /** `ORIGIN_URL`: `<tenant>/origin`. */
  originUrl: string;
  /** Scripts the origin's answer to `method path` (path as the browser asks for it, e.g. `/account`). */
  routeOrigin(method: string, path: string, reply: Reply | Reply[]): Promise<void>;
  /** What the origin received, in order (paths as `/origin/…`). */
  originRequests(): Promise<RecordedRequest[]>;
  /** Starts another browser against the same edge configuration. */
  newBrowser(): TestEdge;
}

/**
 * A scripted provider (discovery, one RS256 key), `ORIGIN_URL` pointing at its
 * `/origin` prefix, and an edge using both. `edge` overrides bindings.
 */
export async function setUpGateway(options: { edge?: Record<string, unknown> } = {}): Promise<GatewaySetup> {
  const { provider, key } = await createLoginProvider();
  const originUrl = provider.url('/origin');
  const bindings = { KENNI_ISSUER: provider.issuer, ORIGIN_URL: originUrl, ...options.edge };
  return {
    provider,
    key,
    edge: createTestEdge(bindings),
    originUrl,
    routeOrigin: (method, path, reply) => provider.route(method, `/origin${path}`, reply),
    originRequests: () =>
      provider.requests((request) => request.path === '/origin' || request.path.startsWith('/origin/')),
    newBrowser: () => createTestEdge(bindings),
  };
}

/** What a scripted login left behind. */
export interface SignedIn {
  sessionId: string;
  /** The access token the token endpoint issued (forwarded on API paths). */
  accessToken: string;
  sub: string;
}

/**
 * Signs `browser` (default `setup.edge`) in through `/auth/login` and the
 * callback, with the token endpoint scripted ({@link logInAt} with the
 * gateway's defaults: navigation Fetch Metadata, a random access token valid
 * for 3600 s). `claims` override the ID token's (`undefined` removes one);
 * `sub` is unique per call unless given.
 */
export async function signIn(
  setup: GatewaySetup,
  options: { browser?: TestEdge; claims?: Claims; accessToken?: string; expiresIn?: number } = {},
): Promise<SignedIn> {
  const sub = typeof options.claims?.sub === 'string' ? options.claims.sub : `user-${crypto.randomUUID()}`;
  const { sessionId, accessToken } = await logInAt(options.browser ?? setup.edge, setup.provider, setup.key, {
    loginHeaders: NAVIGATION,
    callbackHeaders: CROSS_SITE_NAVIGATION,
    code: 'code-1',
    claims: { sub, ...options.claims },
    token: {
      access_token: options.accessToken ?? `session-access-${crypto.randomUUID()}`,
      expires_in: options.expiresIn ?? 3600,
      refresh_token: 'refresh-1',
    },
  });
  return { sessionId, accessToken, sub };
}

/** A JWT access token from the setup's key: `aud` the API audience, scope `KENNI_API_SCOPE`, with `overrides`. */
export async function accessToken(setup: GatewaySetup, overrides: Claims = {}): Promise<string> {
  return signJwt(
    setup.key,
    makeAccessTokenClaims({ issuer: setup.provider.issuer, audience: API_AUDIENCE, scope: API_SCOPE, ...overrides }),
  );
}

/**
 * Asserts the 401 JSON of a request without a session (`session_required`, `Bearer realm="kenni-edge"`;
 * on an API route `challenge` is {@link API_BEARER_CHALLENGE}).
 */
export async function expectSessionRequired(
  response: Response,
  label = '',
  challenge: string = BEARER_CHALLENGE,
): Promise<void> {
  const text = await response.text();
  expect(response.status, `${label} ${text}`).toBe(401);
  expect(response.headers.get('location'), label).toBeNull();
  expect(response.headers.get('content-type'), label).toBe('application/json; charset=utf-8');
  expect(response.headers.get('www-authenticate'), label).toBe(challenge);
  expect(response.headers.get('cache-control'), label).toBe('no-store');
  expect(JSON.parse(text), label).toMatchObject({ error: 'session_required', code: 'session_required' });
}

/** Asserts a 302 to `/auth/login?return_to=<encoded path and query>`. */
export function expectLoginRedirect(response: Response, pathAndQuery: string, label = ''): void {
  expect(response.status, label).toBe(302);
  expect(response.headers.get('location'), label).toBe(`/auth/login?return_to=${encodeURIComponent(pathAndQuery)}`);
}

/** Asserts a JSON error body with `code` and `status`. */
export async function expectJsonError(
  response: Response,
  status: number,
  code: string,
  label = '',
): Promise<Record<string, unknown>> {
  const text = await response.text();
  expect(response.status, `${label} ${text}`).toBe(status);
  expect(response.headers.get('content-type'), label).toBe('application/json; charset=utf-8');
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body.code, label).toBe(code);
  return body;
}

/** Asserts an HTML error page with `code` and `status`. */
export async function expectErrorPage(response: Response, status: number, code: string): Promise<void> {
  const html = await response.text();
  expect(response.status, html).toBe(status);
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(html).toContain(`Error code: <code>${code}</code> (HTTP ${status})`);
}

/** The `X-Kenni-*` / `x_kenni_*` headers of a recorded request. */
export function identityHeadersOf(request: RecordedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).filter(([name]) => /^x[-_]kenni[-_]/i.test(name)));
}

/** The scripted server's base URL and tenant, from the issuer `<base>/<tenant>`. */
function controlBase(provider: ScriptedProvider): string {
  const issuer = new URL(provider.issuer);
  return `${issuer.origin}/__control/${provider.tenant}`;
}

/**
 * Waits (long poll on the scripted server) until a request to `path` (as the
 * browser asks for it) has delivered at least `atLeast` body bytes to the origin.
 */
export async function waitForOriginBytes(
  setup: GatewaySetup,
  method: string,
  path: string,
  atLeast: number,
): Promise<{ bytes: number; done: boolean }> {
  const serverPath = new URL(setup.provider.url(`/origin${path}`)).pathname;
  const response = await fetch(
    `${controlBase(setup.provider)}/received?${new URLSearchParams({ method, path: serverPath, atLeast: String(atLeast) })}`,
  );
  const progress = (await response.json()) as { bytes: number; done: boolean };
  expect(response.status, `the origin received only ${progress.bytes} of ${atLeast} bytes`).toBe(200);
  return progress;
}

/** Lets a download held at `gate` send the rest of its body. */
export async function releaseGate(setup: GatewaySetup, gate: string): Promise<void> {
  const response = await fetch(`${controlBase(setup.provider)}/release/${gate}`, { method: 'POST' });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function closedPort(provider: ScriptedProvider): Promise<number> {
  const response = await fetch(`${controlBase(provider)}/closed-port`);
  const { port } = (await response.json()) as { port: number };
  expect(port).toBeGreaterThan(0);
  return port;
}

/** Another edge on the same issuer and session store (KV) as `setup`, its origin a closed port (at `originPath`). */
export async function edgeWithOriginDown(setup: GatewaySetup, originPath = ''): Promise<TestEdge> {
  const port = await closedPort(setup.provider);
  return createTestEdge({ KENNI_ISSUER: setup.provider.issuer, ORIGIN_URL: `http://127.0.0.1:${port}${originPath}` });
}

/** Byte `index` of the scripted server's generated download body. */
export function patternByte(index: number): number {
  return index % 251;
}

export { sha256Hex } from '../support/hash.ts';
