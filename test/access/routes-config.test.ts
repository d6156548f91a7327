/**
 * `ROUTES` parsing (issue 11): strict; every problem names ROUTES, the route's
 * path and the key. JSON string and TOML array (objects) both accepted.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { parseConfig, type Env } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { routeTable } from '../../src/gateway/route.ts';

const bindings = env as unknown as Env;

function envWith(overrides: Record<string, unknown>): Env {
  return {
    SESSIONS: bindings.SESSIONS,
    KENNI_ISSUER: 'https://idp.kenni.is/team.is',
    KENNI_CLIENT_ID: '@team.is/web',
    SESSION_SECRET: 's'.repeat(32),
    ORIGIN_URL: 'https://origin.example.is',
    ...overrides,
  } as Env;
}

/** The ROUTES problems of a configuration (fails when it parses). */
function routeProblems(routes: unknown, overrides: Record<string, unknown> = {}): string[] {
  try {
    parseConfig(envWith({ ROUTES: routes, ...overrides }));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.every((p) => p.variable === 'ROUTES')).toBe(true);
    return problems.map((p) => p.problem);
  }
  throw new Error('expected a configuration error');
}

describe('ROUTES: valid', () => {
  const ROUTES = [
    { path: '/admin', allow: [{ national_id: ['0101302989'] }], deny: [{ delegation: 'any' }] },
    { path: '/adults', require: [{ min_age: 18 }, { kind: 'person' }] },
    { path: '/api/orders', api: true, methods: ['get', 'POST'], require: [{ scope: ['orders:read'] }] },
    { path: '/docs', public: true, origin: 'https://docs.example.is/base' },
    {
      path: '/x',
      allow: [
        { everyone: true },
        { actor_national_id: ['0101302989'] },
        { sub: ['abc'] },
        { delegation: ['c:procurator'] },
        { auth: 'session' },
        { claim: { email: ['a@b.is'] } },
        { delegation: 'none' },
      ],
    },
  ];

  it('accepts the TOML form (an array of objects) and the JSON string alike, typed and frozen', () => {
    const fromArray = parseConfig(envWith({ ROUTES }));
    const fromString = parseConfig(envWith({ ROUTES: JSON.stringify(ROUTES) }));
    expect(fromString.routes).toEqual(fromArray.routes);
    expect(Object.isFrozen(fromArray.routes)).toBe(true);
    expect(fromArray.routes[0]).toEqual({
      path: '/admin',
      kind: 'page',
      rules: {
        allow: [{ type: 'national_id', values: ['0101302989'] }],
        require: [],
        deny: [{ type: 'delegation', delegation: 'any' }],
      },
    });
    expect(fromArray.routes[2]).toMatchObject({ kind: 'api', methods: ['GET', 'POST', 'HEAD'] });
    expect(fromArray.routes[3]!.kind).toBe('public');
    expect(fromArray.routes[3]!.origin!.href).toBe('https://docs.example.is/base');
    expect(fromArray.routes[4]!.rules.allow!.map((c) => c.type)).toEqual([
      'everyone',
      'actor_national_id',
      'sub',
      'delegation',
      'auth',
      'claim',
      'delegation',
    ]);
  });

  it('no ROUTES: no entries', () => {
    expect(parseConfig(envWith({})).routes).toEqual([]);
    expect(parseConfig(envWith({ ROUTES: '' })).routes).toEqual([]);
  });

  it('the same path twice with different methods is fine', () => {
    const config = parseConfig(
      envWith({ ROUTES: [{ path: '/a', methods: ['POST'] }, { path: '/a', methods: ['PUT'] }, { path: '/a' }] }),
    );
    expect(config.routes).toHaveLength(3);
  });
});

describe('ROUTES: every configuration error names ROUTES, the path and the key', () => {
  it.each([
    ['an unknown key', [{ path: '/a', alow: [{ everyone: true }] }], 'route "/a": "alow" is not a route key'],
    [
      'an unknown condition',
      [{ path: '/a', allow: [{ group: ['x'] }] }],
      'route "/a": "allow" holds an unknown condition "group"',
    ],
    [
      'a condition with two keys',
      [{ path: '/a', require: [{ kind: 'person', min_age: 18 }] }],
      'route "/a": "require" holds a condition that is not an object with exactly one key',
    ],
    [
      'a 9-digit national id',
      [{ path: '/a', allow: [{ national_id: ['010130298'] }] }],
      'route "/a": "allow" holds a "national_id" condition',
    ],
    [
      'an 11-digit national id',
      [{ path: '/a', allow: [{ national_id: ['01013029890'] }] }],
      'route "/a": "allow" holds a "national_id" condition',
    ],
    [
      'a dashed national id',
      [{ path: '/a', allow: [{ actor_national_id: ['010130-2989'] }] }],
      'route "/a": "allow" holds a "actor_national_id" condition',
    ],
    [
      'a numeric national id',
      [{ path: '/a', allow: [{ national_id: [101302989] }] }],
      'route "/a": "allow" holds a "national_id" condition',
    ],
    [
      'a negative max_auth_age',
      [{ path: '/a', max_auth_age: -1 }],
      'route "/a": "max_auth_age" must be a whole number of seconds',
    ],
    [
      'a max_auth_age over one year',
      [{ path: '/a', max_auth_age: 31_536_001 }],
      'route "/a": "max_auth_age" must be a whole number of seconds from 0 to 31536000',
    ],
    [
      'a fractional max_auth_age',
      [{ path: '/a', max_auth_age: 1.5 }],
      'route "/a": "max_auth_age" must be a whole number of seconds',
    ],
    [
      'a string max_auth_age',
      [{ path: '/a', max_auth_age: '60' }],
      'route "/a": "max_auth_age" must be a whole number of seconds',
    ],
    [
      'public with rules',
      [{ path: '/a', public: true, allow: [{ everyone: true }] }],
      'route "/a": "allow" cannot be set on a public route',
    ],
    [
      'public with max_auth_age',
      [{ path: '/a', public: true, max_auth_age: 60 }],
      'route "/a": "max_auth_age" cannot be set on a public route',
    ],
    [
      'public and api',
      [{ path: '/a', public: true, api: true }],
      'route "/a": "public" cannot be combined with "api": true',
    ],
    ['public as a string', [{ path: '/a', public: 'yes' }], 'route "/a": "public" must be true or false'],
    ['an empty allow', [{ path: '/a', allow: [] }], 'route "/a": "allow" must be a non-empty list of conditions'],
    [
      'deny not a list',
      [{ path: '/a', deny: { everyone: true } }],
      'route "/a": "deny" must be a non-empty list of conditions',
    ],
    [
      'everyone false',
      [{ path: '/a', allow: [{ everyone: false }] }],
      'route "/a": "allow" holds a "everyone" condition whose value is not true',
    ],
    ['a bad kind', [{ path: '/a', allow: [{ kind: 'people' }] }], 'route "/a": "allow" holds a "kind" condition'],
    [
      'a fractional min_age',
      [{ path: '/a', allow: [{ min_age: 17.5 }] }],
      'route "/a": "allow" holds a "min_age" condition',
    ],
    [
      'a negative min_age',
      [{ path: '/a', allow: [{ min_age: -1 }] }],
      'route "/a": "allow" holds a "min_age" condition',
    ],
    [
      'a bad delegation',
      [{ path: '/a', allow: [{ delegation: 'some' }] }],
      'route "/a": "allow" holds a "delegation" condition',
    ],
    [
      'an empty delegation list',
      [{ path: '/a', allow: [{ delegation: [] }] }],
      'route "/a": "allow" holds a "delegation" condition',
    ],
    [
      'a scope with a space',
      [{ path: '/a', require: [{ scope: ['a b'] }] }],
      'route "/a": "require" holds a "scope" condition',
    ],
    ['a bad auth', [{ path: '/a', require: [{ auth: 'cookie' }] }], 'route "/a": "require" holds a "auth" condition'],
    [
      'a claim with two names',
      [{ path: '/a', require: [{ claim: { a: ['x'], b: ['y'] } }] }],
      'route "/a": "require" holds a "claim" condition',
    ],
    [
      'a claim with a number value',
      [{ path: '/a', require: [{ claim: { a: [1] } }] }],
      'route "/a": "require" holds a "claim" condition',
    ],
    ['an empty sub list', [{ path: '/a', allow: [{ sub: [] }] }], 'route "/a": "allow" holds a "sub" condition'],
    ['bad methods', [{ path: '/a', methods: ['GET /'] }], 'route "/a": "methods" must be a non-empty list'],
    [
      'an origin with a query',
      [{ path: '/a', origin: 'https://o.example.is/?x=1' }],
      'route "/a": "origin" must be an absolute http(s) URL',
    ],
    [
      'an ftp origin',
      [{ path: '/a', origin: 'ftp://o.example.is/' }],
      'route "/a": "origin" must be an absolute http(s) URL',
    ],
    [
      'an origin with credentials',
      [{ path: '/a', origin: 'https://u:p@o.example.is/' }],
      'route "/a": "origin" must not carry credentials',
    ],
    [
      'the same path twice',
      [{ path: '/a' }, { path: '/A/' }],
      'route "/A/": "path" appears twice for the same methods',
    ],
    [
      'the same path twice, overlapping methods',
      [
        { path: '/a', methods: ['GET'] },
        { path: '/a', methods: ['HEAD'] },
      ],
      'route "/a": "path" appears twice',
    ],
    ['a path without a leading slash', [{ path: 'admin' }], 'entry 1: "path" must be a path prefix'],
    ['a dot-segment path', [{ path: '/a/%2e%2e/b' }], 'entry 1: "path" must be a path prefix'],
    ['no path', [{ allow: [{ everyone: true }] }], 'entry 1: "path" must be a path prefix'],
    ['an entry that is not an object', ['/a'], 'entry 1 is not an object'],
  ])('%s', (_label, routes, expected) => {
    const problems = routeProblems(routes);
    expect(problems.some((p) => p.startsWith(expected))).toBe(true);
    // The same problem when ROUTES arrives as a JSON string.
    expect(routeProblems(JSON.stringify(routes))).toEqual(problems);
  });

  it('a valid max_auth_age (0 to one year) is carried onto the entry and its route', () => {
    const config = parseConfig(
      envWith({
        ROUTES: [
          { path: '/a', max_auth_age: 60 },
          { path: '/b', max_auth_age: 0 },
          { path: '/c', max_auth_age: 31_536_000 },
          { path: '/d' },
        ],
      }),
    );
    expect(config.routes.map((route) => route.maxAuthAge)).toEqual([60, 0, 31_536_000, undefined]);
    expect(routeTable(config).match(['a', 'x'], 'GET').maxAuthAge).toBe(60);
    expect(routeTable(config).match(['d'], 'GET')).not.toHaveProperty('maxAuthAge');
  });

  it('not JSON, not a list', () => {
    expect(routeProblems('[{')).toEqual(['is not JSON (expected a list of route objects)']);
    expect(routeProblems('{"path":"/a"}')).toEqual(['must be a list of route objects']);
    expect(routeProblems(42)).toEqual(['must be a list of route objects']);
  });

  it('the same path in ROUTES and in PUBLIC_PATHS or API_PATHS', () => {
    expect(routeProblems([{ path: '/docs/' }], { PUBLIC_PATHS: '/docs' })).toEqual([
      'route "/docs/": "path" is also in PUBLIC_PATHS',
    ]);
    expect(routeProblems([{ path: '/api', api: true }], { API_PATHS: '/api/' })).toEqual([
      'route "/api": "path" is also in API_PATHS',
    ]);
  });

  it('reports every problem at once', () => {
    expect(
      routeProblems([
        { path: '/a', alow: [] },
        { path: '/b', deny: [{ kind: 'x' }] },
      ]),
    ).toHaveLength(2);
  });
});
