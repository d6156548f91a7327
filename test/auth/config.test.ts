/**
 * Configuration (issue #2): every invalid setting is answered with 500 naming
 * the variable and the fix (a page for browsers, JSON otherwise, never a stack
 * trace), all problems at once, logged once without secrets; a valid
 * configuration is parsed into a frozen object with the contract's defaults.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, type Env, type KenniEdgeConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createTestEdge } from '../support/edge.ts';
import { captureLogs } from '../support/log-capture.ts';

const bindings = env as unknown as Env;

afterEach(() => {
  vi.restoreAllMocks();
});

/** A minimal valid environment for parseConfig. */
function validEnv(overrides: Partial<Record<keyof Env, unknown>> = {}): Env {
  const base: Record<string, unknown> = {
    SESSIONS: bindings.SESSIONS,
    KENNI_ISSUER: 'https://idp.kenni.is/team.is',
    KENNI_CLIENT_ID: '@team.is/web',
    SESSION_SECRET: 's'.repeat(32),
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base as Env;
}

function problemsOf(overrides: Partial<Record<keyof Env, unknown>>): ConfigError['problems'] {
  try {
    parseConfig(validEnv(overrides));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function unique(): string {
  return crypto.randomUUID().slice(0, 8);
}

/** No stack frames and no source paths in a client-facing body. */
function expectNoStackTrace(text: string): void {
  expect(text).not.toMatch(/\bat\s+\S+\s+\(/);
  expect(text).not.toMatch(/^\s*at\s/m);
  expect(text).not.toMatch(/\.(ts|js|mjs):\d+/);
  expect(text).not.toMatch(/(\/work\/|src\/|node_modules|file:\/\/)/);
  expect(text).not.toContain('Error:');
  expect(text).not.toContain('stack');
}

interface Case {
  name: string;
  overrides: Partial<Record<keyof Env, unknown>>;
  variable: string;
  /** Words the problem text must contain. */
  problem: RegExp;
  /** Words the fix must contain. */
  fix: RegExp;
}

const CASES: Case[] = [
  {
    name: 'SESSIONS binding missing',
    overrides: { SESSIONS: undefined },
    variable: 'SESSIONS',
    problem: /KV namespace binding is missing/,
    fix: /wrangler kv namespace create SESSIONS/,
  },
  {
    name: 'KENNI_ISSUER missing',
    overrides: { KENNI_ISSUER: undefined },
    variable: 'KENNI_ISSUER',
    problem: /required/,
    fix: /https:\/\/idp\.kenni\.is\//,
  },
  {
    name: 'KENNI_ISSUER empty',
    overrides: { KENNI_ISSUER: '   ' },
    variable: 'KENNI_ISSUER',
    problem: /required/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER not a URL',
    overrides: { KENNI_ISSUER: 'idp.kenni.is/team.is' },
    variable: 'KENNI_ISSUER',
    problem: /not a URL/,
    fix: /https:\/\//,
  },
  {
    name: 'KENNI_ISSUER plain http on a public host',
    overrides: { KENNI_ISSUER: 'http://idp.example.is/x' },
    variable: 'KENNI_ISSUER',
    problem: /https/,
    fix: /https:\/\//,
  },
  {
    name: 'KENNI_ISSUER http on a host that only starts like localhost',
    overrides: { KENNI_ISSUER: 'http://localhost.evil.is/x' },
    variable: 'KENNI_ISSUER',
    problem: /https/,
    fix: /https:\/\//,
  },
  {
    name: 'KENNI_ISSUER with a query',
    overrides: { KENNI_ISSUER: 'https://idp.kenni.is/team.is?x=1' },
    variable: 'KENNI_ISSUER',
    problem: /query/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_CLIENT_ID missing',
    overrides: { KENNI_CLIENT_ID: undefined },
    variable: 'KENNI_CLIENT_ID',
    problem: /required/,
    fix: /@your-team\.is\/web/,
  },
  {
    name: 'SESSION_SECRET missing',
    overrides: { SESSION_SECRET: undefined },
    variable: 'SESSION_SECRET',
    problem: /required/,
    fix: /wrangler secret put SESSION_SECRET/,
  },
  {
    name: 'SESSION_SECRET shorter than 32 characters',
    overrides: { SESSION_SECRET: 'x'.repeat(31) },
    variable: 'SESSION_SECRET',
    problem: /too short.*31.*32/,
    fix: /wrangler secret put SESSION_SECRET/,
  },
  {
    name: 'ORIGIN_URL malformed',
    overrides: { ORIGIN_URL: 'not a url' },
    variable: 'ORIGIN_URL',
    problem: /not an absolute http\(s\) URL/,
    fix: /https:\/\/origin\.example\.is/,
  },
  {
    name: 'ORIGIN_URL with another scheme',
    overrides: { ORIGIN_URL: 'ftp://origin.example.is' },
    variable: 'ORIGIN_URL',
    problem: /not an absolute http\(s\) URL/,
    fix: /https:\/\//,
  },
  {
    name: 'ORIGIN_URL relative',
    overrides: { ORIGIN_URL: '/origin' },
    variable: 'ORIGIN_URL',
    problem: /not an absolute/,
    fix: /https:\/\//,
  },
  {
    name: 'ORIGIN_TIMEOUT not a number',
    overrides: { ORIGIN_TIMEOUT: 'thirty' },
    variable: 'ORIGIN_TIMEOUT',
    problem: /whole number of seconds/,
    fix: /ORIGIN_TIMEOUT.*30/,
  },
  {
    name: 'ORIGIN_TIMEOUT with a unit',
    overrides: { ORIGIN_TIMEOUT: '30s' },
    variable: 'ORIGIN_TIMEOUT',
    problem: /whole number of seconds/,
    fix: /30/,
  },
  {
    name: 'ORIGIN_TIMEOUT zero',
    overrides: { ORIGIN_TIMEOUT: '0' },
    variable: 'ORIGIN_TIMEOUT',
    problem: /between/,
    fix: /30/,
  },
  {
    name: 'ORIGIN_TIMEOUT negative',
    overrides: { ORIGIN_TIMEOUT: '-5' },
    variable: 'ORIGIN_TIMEOUT',
    problem: /whole number/,
    fix: /30/,
  },
  {
    name: 'SESSION_TTL not a number',
    overrides: { SESSION_TTL: '30d' },
    variable: 'SESSION_TTL',
    problem: /whole number of seconds/,
    fix: /2592000/,
  },
  {
    name: 'SESSION_TTL fractional',
    overrides: { SESSION_TTL: '1.5' },
    variable: 'SESSION_TTL',
    problem: /whole number/,
    fix: /2592000/,
  },
  {
    name: 'SESSION_TTL below KV minimum',
    overrides: { SESSION_TTL: '10' },
    variable: 'SESSION_TTL',
    problem: /between 60/,
    fix: /2592000/,
  },
  {
    name: 'SESSION_IDLE_TTL not a number',
    overrides: { SESSION_IDLE_TTL: 'a day' },
    variable: 'SESSION_IDLE_TTL',
    problem: /whole number/,
    fix: /86400/,
  },
  {
    name: 'EDGE_SIGNING_KEY not JSON',
    overrides: { EDGE_SIGNING_KEY: 'not-json' },
    variable: 'EDGE_SIGNING_KEY',
    problem: /not JSON/,
    fix: /wrangler secret put EDGE_SIGNING_KEY/,
  },
  {
    name: 'EDGE_SIGNING_KEY an RSA key',
    overrides: { EDGE_SIGNING_KEY: JSON.stringify({ kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB' }) },
    variable: 'EDGE_SIGNING_KEY',
    problem: /P-256/,
    fix: /EDGE_SIGNING_KEY/,
  },
  {
    name: 'EDGE_SIGNING_KEY a P-384 key',
    overrides: { EDGE_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA', d: 'AA' }) },
    variable: 'EDGE_SIGNING_KEY',
    problem: /P-256/,
    fix: /EDGE_SIGNING_KEY/,
  },
  {
    name: 'EDGE_SIGNING_KEY a public key only',
    overrides: { EDGE_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }) },
    variable: 'EDGE_SIGNING_KEY',
    problem: /private/,
    fix: /EDGE_SIGNING_KEY/,
  },
  {
    name: 'KENNI_M2M_CLIENT_ID without its secret',
    overrides: { KENNI_M2M_CLIENT_ID: '@team.is/m2m', KENNI_M2M_CLIENT_SECRET: undefined },
    variable: 'KENNI_M2M_CLIENT_SECRET',
    problem: /missing/,
    fix: /KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET/,
  },
  {
    name: 'KENNI_M2M_CLIENT_SECRET without its id',
    overrides: { KENNI_M2M_CLIENT_ID: undefined, KENNI_M2M_CLIENT_SECRET: 'x' },
    variable: 'KENNI_M2M_CLIENT_ID',
    problem: /missing/,
    fix: /KENNI_M2M_CLIENT_ID and KENNI_M2M_CLIENT_SECRET/,
  },
  {
    name: 'KENNI_SCOPE without openid',
    overrides: { KENNI_SCOPE: 'profile national_id' },
    variable: 'KENNI_SCOPE',
    problem: /openid/,
    fix: /openid profile/,
  },
  {
    name: 'KENNI_SCOPE with openid only inside another word',
    overrides: { KENNI_SCOPE: 'openidx profile' },
    variable: 'KENNI_SCOPE',
    problem: /openid/,
    fix: /openid profile/,
  },
  {
    name: 'KENNI_SCOPE with openid only as a prefix of another scope',
    overrides: { KENNI_SCOPE: 'profile openid:extra' },
    variable: 'KENNI_SCOPE',
    problem: /openid/,
    fix: /openid profile/,
  },
  {
    name: 'CLOCK_TOLERANCE one second over the bound',
    overrides: { CLOCK_TOLERANCE: '61' },
    variable: 'CLOCK_TOLERANCE',
    problem: /between 0 and 60/,
    fix: /CLOCK_TOLERANCE.*30/,
  },
  {
    name: 'CLOCK_TOLERANCE negative',
    overrides: { CLOCK_TOLERANCE: '-1' },
    variable: 'CLOCK_TOLERANCE',
    problem: /whole number/,
    fix: /30/,
  },
  {
    name: 'CLOCK_TOLERANCE fractional',
    overrides: { CLOCK_TOLERANCE: '0.5' },
    variable: 'CLOCK_TOLERANCE',
    problem: /whole number/,
    fix: /30/,
  },
  {
    name: 'KENNI_ISSUER with a fragment',
    overrides: { KENNI_ISSUER: 'https://idp.kenni.is/team.is#x' },
    variable: 'KENNI_ISSUER',
    problem: /fragment/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER with an empty fragment',
    overrides: { KENNI_ISSUER: 'https://idp.kenni.is/team.is#' },
    variable: 'KENNI_ISSUER',
    problem: /fragment/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER with an empty query',
    overrides: { KENNI_ISSUER: 'https://idp.kenni.is/team.is?' },
    variable: 'KENNI_ISSUER',
    problem: /query/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER with empty userinfo',
    overrides: { KENNI_ISSUER: 'https://@idp.kenni.is/team.is' },
    variable: 'KENNI_ISSUER',
    problem: /credentials/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER with a username',
    overrides: { KENNI_ISSUER: 'https://team@idp.kenni.is/team.is' },
    variable: 'KENNI_ISSUER',
    problem: /credentials/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER with a username and password',
    overrides: { KENNI_ISSUER: 'https://team:secret@idp.kenni.is/team.is' },
    variable: 'KENNI_ISSUER',
    problem: /credentials/,
    fix: /issuer/,
  },
  {
    name: 'KENNI_ISSUER loopback http with a username',
    overrides: { KENNI_ISSUER: 'http://dev@localhost:9400/dev-team.is' },
    variable: 'KENNI_ISSUER',
    problem: /credentials/,
    fix: /issuer/,
  },
  {
    name: 'ORIGIN_URL with a query',
    overrides: { ORIGIN_URL: 'https://origin.team.is/app?tenant=1' },
    variable: 'ORIGIN_URL',
    problem: /query/,
    fix: /https:\/\/origin\.example\.is/,
  },
  {
    name: 'ORIGIN_URL with an empty query',
    overrides: { ORIGIN_URL: 'https://origin.team.is/app?' },
    variable: 'ORIGIN_URL',
    problem: /query/,
    fix: /https:\/\/origin\.example\.is/,
  },
  {
    name: 'ORIGIN_URL with a fragment',
    overrides: { ORIGIN_URL: 'https://origin.team.is/app#x' },
    variable: 'ORIGIN_URL',
    problem: /fragment/,
    fix: /https:\/\/origin\.example\.is/,
  },
  ...(['PUBLIC_PATHS', 'API_PATHS'] as const).flatMap((variable) =>
    [
      ['a dot-dot segment', '/public/../admin/'],
      ['a trailing dot-dot segment', '/public/..'],
      ['a dot segment', '/public/./x/'],
      ['a trailing dot segment', '/public/.'],
      ['a percent-encoded dot-dot segment', '/public/%2e%2E/admin/'],
      ['a percent-encoded dot segment', '/public/%2E/'],
      ['a doubled slash', '/public//x/'],
      ['a leading doubled slash', '//public/'],
      ['a question mark', '/public/?x=1'],
      ['a hash', '/public/#top'],
      ['no leading slash', 'public/'],
    ].map(([what, entry]) => ({
      name: `${variable} entry with ${what} (${entry})`,
      // The bad entry sits between good ones: the problem names it and only it.
      overrides: { [variable]: `/ok/, ${entry}, /also-ok/` },
      variable,
      problem: new RegExp(`"${entry!.replace(/[.?*+^$()[\]{}|\\/]/g, '\\$&')}" is not a path prefix`),
      fix: /comma-separated prefixes that start with "\/"/,
    })),
  ),
];

describe('parseConfig', () => {
  it.each(CASES)('names the variable and the fix: $name', ({ overrides, variable, problem, fix }) => {
    const problems = problemsOf(overrides);

    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.problem).toMatch(problem);
    expect(problems[0]!.fix).toMatch(fix);
  });

  it.each([
    'http://localhost',
    'http://localhost:9400/dev-team.is',
    'http://127.0.0.1:9400/dev-team.is',
    'http://[::1]:9400/dev-team.is',
  ])('accepts the loopback http issuer %s for local development', (issuer) => {
    const config = parseConfig(validEnv({ KENNI_ISSUER: issuer }));

    expect(config.issuer).toBe(issuer);
    expect(config.issuerIsLoopbackHttp).toBe(true);
  });

  it('keeps an https issuer exactly as configured and does not treat it as loopback', () => {
    const config = parseConfig(validEnv({ KENNI_ISSUER: 'https://idp.kenni.is/team.is' }));

    expect(config.issuer).toBe('https://idp.kenni.is/team.is');
    expect(config.issuerIsLoopbackHttp).toBe(false);
  });

  it('lists several problems at once', () => {
    const problems = problemsOf({
      KENNI_ISSUER: undefined,
      KENNI_CLIENT_ID: undefined,
      SESSION_SECRET: 'short',
      ORIGIN_TIMEOUT: 'x',
      EDGE_SIGNING_KEY: '{',
    });

    expect(problems.map((problem) => problem.variable).sort()).toEqual([
      'EDGE_SIGNING_KEY',
      'KENNI_CLIENT_ID',
      'KENNI_ISSUER',
      'ORIGIN_TIMEOUT',
      'SESSION_SECRET',
    ]);
    for (const problem of problems) expect(problem.fix.length).toBeGreaterThan(10);
  });

  // The good neighbours of the refused values above: each is accepted as it stands.
  it.each([
    ['CLOCK_TOLERANCE at its bound', { CLOCK_TOLERANCE: '60' }, (config: KenniEdgeConfig) => config.clockTolerance, 60],
    ['CLOCK_TOLERANCE zero', { CLOCK_TOLERANCE: '0' }, (config: KenniEdgeConfig) => config.clockTolerance, 0],
    [
      'KENNI_SCOPE with openid as a word',
      { KENNI_SCOPE: 'openid profile' },
      (config: KenniEdgeConfig) => config.scope,
      'openid profile',
    ],
    [
      'KENNI_SCOPE with openid among tabs and spaces',
      { KENNI_SCOPE: 'profile  national_id\topenid' },
      (config: KenniEdgeConfig) => config.scope,
      'profile  national_id\topenid',
    ],
    [
      'KENNI_ISSUER with a path and a port',
      { KENNI_ISSUER: 'https://idp.kenni.is:8443/team.is/x' },
      (config: KenniEdgeConfig) => config.issuer,
      'https://idp.kenni.is:8443/team.is/x',
    ],
    [
      'ORIGIN_URL with a path',
      { ORIGIN_URL: 'https://origin.team.is/app/' },
      (config: KenniEdgeConfig) => config.originUrl?.href,
      'https://origin.team.is/app/',
    ],
    [
      'PUBLIC_PATHS with dots inside names',
      { PUBLIC_PATHS: '/favicon.ico, /.well-known/, /files/v1.2/' },
      (config: KenniEdgeConfig) => config.publicPaths,
      ['/favicon.ico', '/.well-known/', '/files/v1.2/'],
    ],
    [
      'API_PATHS without a trailing slash',
      { API_PATHS: '/api,/v2/rpc' },
      (config: KenniEdgeConfig) => config.apiPaths,
      ['/api', '/v2/rpc'],
    ],
  ] as Array<[string, Partial<Record<keyof Env, unknown>>, (config: KenniEdgeConfig) => unknown, unknown]>)(
    'accepts %s',
    (_label, overrides, read, expected) => {
      expect(read(parseConfig(validEnv(overrides)))).toEqual(expected);
    },
  );

  it('applies the contract defaults', () => {
    const config = parseConfig(validEnv());

    expect(config.scope).toBe('openid profile national_id offline_access');
    expect(config.apiScopes).toEqual([]);
    expect(config.apiAudience).toBe('@team.is/web-api');
    expect(config.apiPaths).toEqual(['/api/']);
    expect(config.publicPaths).toEqual([]);
    expect(config.sessionTtl).toBe(2_592_000);
    expect(config.sessionIdleTtl).toBe(86_400);
    expect(config.originTimeoutMs).toBe(30_000);
    expect(config.clientSecret).toBeUndefined();
    expect(config.redirectUri).toBeUndefined();
    expect(config.postLogoutRedirectUri).toBeUndefined();
    expect(config.originUrl).toBeUndefined();
    expect(config.edgeSigningKeys).toEqual([]);
  });

  it('reads explicit values over the defaults', () => {
    const config = parseConfig(
      validEnv({
        KENNI_SCOPE: 'openid national_id',
        KENNI_API_SCOPE: '@team.is/orders.read  @team.is/orders.write',
        KENNI_API_AUDIENCE: 'https://api.team.is',
        API_PATHS: '/api/, /v2/',
        PUBLIC_PATHS: '/public/,/favicon.ico',
        SESSION_TTL: '3600',
        SESSION_IDLE_TTL: '600',
        ORIGIN_TIMEOUT: '5',
        ORIGIN_URL: 'https://origin.team.is',
      }),
    );

    expect(config.scope).toBe('openid national_id');
    expect(config.apiScopes).toEqual(['@team.is/orders.read', '@team.is/orders.write']);
    expect(config.apiAudience).toBe('https://api.team.is');
    expect(config.apiPaths).toEqual(['/api/', '/v2/']);
    expect(config.publicPaths).toEqual(['/public/', '/favicon.ico']);
    expect(config.sessionTtl).toBe(3600);
    expect(config.sessionIdleTtl).toBe(600);
    expect(config.originTimeoutMs).toBe(5000);
    expect(config.originUrl?.href).toBe('https://origin.team.is/');
  });

  it('introspects opaque tokens by default (KENNI_INTROSPECTION=auto) and reads "off"', () => {
    expect(parseConfig(validEnv()).introspection).toBe('auto');
    expect(parseConfig(validEnv({ KENNI_INTROSPECTION: 'off' })).introspection).toBe('off');
    expect(parseConfig(validEnv({ KENNI_INTROSPECTION: ' auto ' })).introspection).toBe('auto');
  });

  it.each(['on', 'OFF', 'true', 'jwt'])('refuses KENNI_INTROSPECTION=%s, naming the variable', (value) => {
    expect(problemsOf({ KENNI_INTROSPECTION: value })).toEqual([
      {
        variable: 'KENNI_INTROSPECTION',
        problem: `"${value}" is neither "auto" nor "off"`,
        fix: 'set it to "auto" (introspect opaque access tokens) or "off" (accept JWT access tokens only)',
      },
    ]);
  });

  it('reads KENNI_ADMIN_SCOPE (unset: no admin route)', () => {
    expect(parseConfig(validEnv()).adminScope).toBeUndefined();
    expect(parseConfig(validEnv({ KENNI_ADMIN_SCOPE: ' @team.is/sessions.admin ' })).adminScope).toBe(
      '@team.is/sessions.admin',
    );
  });

  it.each(['@team.is/a @team.is/b', 'sessions"admin', 'sessions\\admin'])(
    'refuses KENNI_ADMIN_SCOPE=%s (not one scope), naming the variable',
    (value) => {
      expect(problemsOf({ KENNI_ADMIN_SCOPE: value })).toEqual([
        {
          variable: 'KENNI_ADMIN_SCOPE',
          problem: 'must be one OAuth scope (no spaces or quotes)',
          fix: 'set it to the one scope an operator token carries, e.g. "@your-team.is/sessions.admin", or leave it unset',
        },
      ]);
    },
  );

  it('returns a frozen object', () => {
    const config = parseConfig(validEnv());

    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { sessionTtl: number }).sessionTtl = 1;
    }).toThrow(TypeError);
    expect(config.sessionTtl).toBe(2_592_000);
  });

  it('freezes its lists too, so no request can change them for the next', () => {
    const config = parseConfig(
      validEnv({
        KENNI_API_SCOPE: '@team.is/api.read',
        EDGE_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }),
      }),
    );

    for (const list of [config.apiScopes, config.apiPaths, config.publicPaths, config.edgeSigningKeys])
      expect(Object.isFrozen(list)).toBe(true);
    expect(Object.isFrozen(config.edgeSigningKeys[0])).toBe(true);
    expect(() => (config.apiPaths as string[]).push('/admin/')).toThrow(TypeError);
    expect(() => (config.apiScopes as string[]).splice(0)).toThrow(TypeError);
    expect(config.apiPaths).toEqual(['/api/']);
    expect(config.apiScopes).toEqual(['@team.is/api.read']);
  });
});

describe('an invalid configuration at the edge', () => {
  it.each(CASES)(
    'answers 500 JSON naming the variable and the fix, without a stack trace: $name',
    async ({ overrides, variable, fix }) => {
      const edge = createTestEdge(overrides);

      const response = await edge.fetch('/auth/login', { headers: { accept: 'application/json' } });

      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('location')).toBeNull();
      const text = await response.text();
      expectNoStackTrace(text);
      const body = JSON.parse(text) as {
        error: string;
        code: string;
        error_description: string;
        problems: Array<{ variable: string; problem: string; fix: string }>;
      };
      expect(body.error).toBe('config_invalid');
      expect(body.code).toBe('config_invalid');
      expect(body.error_description).toContain(variable);
      const problem = body.problems.find((entry) => entry.variable === variable);
      expect(problem?.variable).toBe(variable);
      expect(problem!.fix).toMatch(fix);
    },
  );

  it.each(CASES)(
    'answers 500 with a page naming the variable and the fix, without a stack trace: $name',
    async ({ overrides, variable }) => {
      const edge = createTestEdge(overrides);

      const response = await edge.fetch('/auth/login', { headers: { accept: 'text/html,application/xhtml+xml' } });

      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const html = await response.text();
      expectNoStackTrace(html);
      expect(html).toContain(`<code>${variable}</code>`);
      expect(html).toContain('Fix:');
      expect(html).toContain('<code>config_invalid</code>');
    },
  );

  it('answers 500 on every route, the gateway included, and never starts a login', async () => {
    const edge = createTestEdge({ KENNI_ISSUER: undefined });

    for (const path of ['/', '/api/orders', '/auth/me', '/auth/callback?code=a&state=b', '/auth/logout']) {
      const response = await edge.fetch(path, { headers: { accept: 'application/json' } });
      expect(response.status).toBe(500);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(await response.json()).toMatchObject({ code: 'config_invalid', problems: [{ variable: 'KENNI_ISSUER' }] });
    }
  });

  it('lists all problems at once on the page and in JSON', async () => {
    const edge = createTestEdge({
      KENNI_ISSUER: 'http://idp.example.is/x',
      KENNI_CLIENT_ID: undefined,
      SESSION_SECRET: 'short',
      ORIGIN_URL: 'nope',
      SESSION_TTL: 'forever',
    });
    const expected = ['KENNI_CLIENT_ID', 'KENNI_ISSUER', 'ORIGIN_URL', 'SESSION_SECRET', 'SESSION_TTL'];

    const json = await edge.fetch('/auth/me');
    const page = await edge.fetch('/', { headers: { accept: 'text/html' } });

    expect(json.status).toBe(500);
    const body = (await json.json()) as { problems: Array<{ variable: string }> };
    expect(body.problems.map((problem) => problem.variable).sort()).toEqual(expected);
    expect(page.status).toBe(500);
    const html = await page.text();
    for (const variable of expected) expect(html).toContain(`<code>${variable}</code>`);
    expect(html.match(/Fix:/g)).toHaveLength(expected.length);
  });

  it('accepts loopback http issuers end to end', async () => {
    for (const issuer of ['http://localhost:1/team.is', 'http://127.0.0.1:1/team.is', 'http://[::1]:1/team.is']) {
      const response = await createTestEdge({ KENNI_ISSUER: issuer }).fetch('/auth/me');
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: 'session_required' });
    }
  });

  it('logs the configuration error once, as one config_invalid line without any secret value', async () => {
    const capture = captureLogs();
    const shortSecret = `short-${unique()}`;
    const clientSecret = `client-secret-${unique()}`;
    const m2mSecret = `m2m-secret-${unique()}`;
    const edge = createTestEdge({
      SESSION_SECRET: shortSecret,
      KENNI_CLIENT_SECRET: clientSecret,
      KENNI_M2M_CLIENT_SECRET: m2mSecret,
      ORIGIN_URL: `not a url ${unique()}`,
      EDGE_SIGNING_KEY: JSON.stringify({ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA', d: `private-${unique()}` }),
    });

    for (const path of ['/auth/me', '/auth/login', '/', '/auth/me']) {
      expect((await edge.fetch(path)).status).toBe(500);
    }

    const lines = capture.lines().map(({ text }) => text);
    const configLines = lines.filter((line) => line.includes('"event":"config_invalid"'));
    expect(configLines).toHaveLength(1);
    const entry = JSON.parse(configLines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ event: 'config_invalid', reason: 'config_invalid', level: 'error' });
    expect(entry.detail).toEqual(expect.stringContaining('SESSION_SECRET'));
    expect(entry.detail).toEqual(expect.stringContaining('ORIGIN_URL'));
    expect(entry.detail).toEqual(expect.stringContaining('EDGE_SIGNING_KEY'));
    const edgeKey = JSON.parse(String(edge.env.EDGE_SIGNING_KEY)) as { d: string };
    for (const secret of [shortSecret, clientSecret, m2mSecret, edgeKey.d, String(bindings.SESSION_SECRET)]) {
      for (const line of lines) expect(line).not.toContain(secret);
    }
  });

  it('never puts a secret into the response either', async () => {
    const shortSecret = `short-${unique()}`;
    const edge = createTestEdge({ SESSION_SECRET: shortSecret, EDGE_SIGNING_KEY: `{"d":"private-${unique()}"` });

    for (const accept of ['application/json', 'text/html']) {
      const text = await (await edge.fetch('/auth/login', { headers: { accept } })).text();
      expect(text).not.toContain(shortSecret);
      expect(text).not.toContain('private-');
      expect(text).not.toContain(String(bindings.KENNI_CLIENT_SECRET));
    }
  });
});
