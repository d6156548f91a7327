/**
 * Access rules in your own Hono app (issue 11, item 5): `requireSession({ rules })`,
 * `requireBearer({ rules })` and `requireAccess(rules)` take the objects of a
 * `ROUTES` entry, validate them with the same strict parser when created, and
 * answer as the gateway does (403 `access_denied`: a page for navigations, JSON
 * otherwise; 403 `insufficient_scope` naming the scope for a bearer token).
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  createKenniEdge,
  handleError,
  kenniConfig,
  requireAccess,
  requireBearer,
  requireSession,
  type AccessRuleSpec,
  type AppEnv,
} from '../../src/index.ts';
import { createAppEdge, type TestEdge } from '../support/edge.ts';
import { captureLogs, expectEveryLineFollowsLogRule } from '../support/log-capture.ts';
import { GUDRUN, THORDUR } from '../support/presets.ts';
import { tokenResponse } from '../support/scripted-provider.ts';
import { makeIdTokenClaims, signJwt } from '../support/token-factory.ts';
import {
  accessToken,
  API_SCOPE,
  CLIENT_ID,
  expectErrorPage,
  expectJsonError,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from '../gateway/helpers.ts';

const ORDERS_WRITE = 'orders:write';
const ACTOR = { sub: 'kenni-person-1', national_id: THORDUR.national_id, name: THORDUR.name };
const ADMINS: AccessRuleSpec = { allow: [{ national_id: [THORDUR.national_id] }] };

/** An app with the auth routes, `routes` added, and the one error handler. */
function appWith(setup: GatewaySetup, routes: (app: Hono<AppEnv>) => void): TestEdge {
  const app = new Hono<AppEnv>();
  app.use('*', kenniConfig());
  app.route('/', createKenniEdge({ gateway: false }));
  routes(app);
  app.onError(handleError);
  // The setup's issuer and no session lock (the scripted provider refreshes).
  return createAppEdge(app, { KENNI_ISSUER: setup.provider.issuer, SESSION_LOCKS: undefined });
}

const ok: MiddlewareHandler<AppEnv> = async (c) => c.json({ ok: true, sub: c.get('principal')!.subject });

/** The ConfigError a construction throws (fails when it does not throw). */
function constructionError(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the middleware to refuse its rules');
}

describe('requireSession({ rules })', () => {
  it('allow: Þórður passes; Guðrún gets the 403 page (navigation) or JSON (fetch), never a redirect', async () => {
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) => app.get('/admin/*', requireSession({ rules: ADMINS }), ok));
    const logs = captureLogs();
    await signIn(setup, { browser, claims: { ...GUDRUN } });

    const page = await browser.fetch('/admin/users?tab=1', { headers: NAVIGATION });
    expect(page.headers.get('location')).toBeNull();
    const html = await page.clone().text();
    await expectErrorPage(page, 403, 'access_denied');
    expect(html).toContain('<strong>Guðrún Ólafsdóttir</strong>');
    expect(html).toContain(`prompt=delegation&#38;return_to=${encodeURIComponent('/admin/users?tab=1')}`);
    expect(html).not.toContain(GUDRUN.national_id);
    const json = await expectJsonError(
      await browser.fetch('/admin/users', { headers: SAME_ORIGIN_FETCH }),
      403,
      'access_denied',
    );
    expect(json.error).toBe('access_denied');

    const denied = logs.events().filter((event) => event.event === 'access_denied');
    expect(denied.map((event) => [event.reason, event.path])).toEqual([
      ['national_id', '/admin/users'],
      ['national_id', '/admin/users'],
    ]);
    expectEveryLineFollowsLogRule(logs.lines(), [GUDRUN.national_id, THORDUR.national_id]);

    const thordur = appWith(setup, (app) => app.get('/admin/*', requireSession({ rules: ADMINS }), ok));
    await signIn(setup, { browser: thordur, claims: { ...THORDUR } });
    const admitted = await thordur.fetch('/admin/users', { headers: NAVIGATION });
    expect(admitted.status).toBe(200);
    expect(await admitted.json()).toEqual({ ok: true, sub: THORDUR.sub });
  });

  it('deny wins over allow: acting for someone else is refused even where everyone is allowed', async () => {
    const setup = await setUpGateway();
    const rules: AccessRuleSpec = { allow: [{ everyone: true }], deny: [{ delegation: 'any' }] };
    const app = (app: Hono<AppEnv>) => app.get('/mine', requireSession({ rules }), ok);
    const delegated = appWith(setup, app);
    await signIn(setup, { browser: delegated, claims: { actor: ACTOR, delegation_type: 'c:procurator' } });
    await expectJsonError(await delegated.fetch('/mine', { headers: SAME_ORIGIN_FETCH }), 403, 'access_denied');

    const oneself = appWith(setup, app);
    await signIn(setup, { browser: oneself, claims: { ...GUDRUN } });
    expect((await oneself.fetch('/mine', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
  });

  it('scope: the session passes with a scope it was granted, and gets 403 access_denied (not insufficient_scope) without', async () => {
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) => {
      app.get('/reports', requireSession({ rules: { require: [{ scope: [API_SCOPE] }] } }), ok);
      app.post('/orders', requireSession({ rules: { require: [{ scope: [ORDERS_WRITE] }] } }), ok);
    });
    await signIn(setup, { browser }); // the token response names no scope: the login's requested scope was granted

    expect((await browser.fetch('/reports', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
    const refused = await browser.fetch('/orders', { method: 'POST', headers: SAME_ORIGIN_FETCH });
    await expectJsonError(refused, 403, 'access_denied');
    expect(refused.headers.get('www-authenticate')).toBeNull();
  });

  it('with freshToken, the rules are decided on the claims the refresh brought, on the same request', async () => {
    const setup = await setUpGateway();
    const rules: AccessRuleSpec = { allow: [{ delegation: ['c:procurator'] }] };
    const browser = appWith(setup, (app) =>
      app.get('/company/orders', requireSession({ freshToken: true, rules }), (c) =>
        c.json({ token: c.get('accessToken'), actor: c.get('principal')!.actor?.name }),
      ),
    );
    await signIn(setup, { browser, claims: { actor: ACTOR, delegation_type: 'c:procurator' }, expiresIn: 30 });
    const { sub } = await browser
      .fetch('/auth/me', { headers: SAME_ORIGIN_FETCH })
      .then((r) => r.json<{ sub: string }>());
    // The delegation ended at the provider: the refreshed ID token names no actor.
    const idToken = await signJwt(
      setup.key,
      makeIdTokenClaims({ issuer: setup.provider.issuer, clientId: CLIENT_ID, nonce: undefined, sub }),
    );
    await setup.provider.serveToken(tokenResponse({ access_token: 'fresh', expires_in: 3600, id_token: idToken }));

    await expectJsonError(await browser.fetch('/company/orders', { headers: SAME_ORIGIN_FETCH }), 403, 'access_denied');
  });
});

describe('requireBearer({ rules })', () => {
  it('a missing scope is 403 insufficient_scope naming it; a held deny scope is 403 access_denied', async () => {
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) => {
      app.post('/api/orders', requireBearer({ rules: { require: [{ scope: [ORDERS_WRITE] }] } }), ok);
      app.get('/api/public-data', requireBearer({ rules: { deny: [{ scope: ['guest'] }] } }), ok);
    });
    const writer = await accessToken(setup, { sub: 'writer', scope: `${API_SCOPE} ${ORDERS_WRITE}` });
    const reader = await accessToken(setup, { sub: 'reader', scope: API_SCOPE });
    const guest = await accessToken(setup, { sub: 'guest', scope: `${API_SCOPE} guest` });
    const call = (path: string, token: string, method = 'GET') =>
      browser.fetch(path, { method, headers: { authorization: `Bearer ${token}` }, jar: false });

    const written = await call('/api/orders', writer, 'POST');
    expect(written.status).toBe(200);
    expect(await written.json()).toEqual({ ok: true, sub: 'writer' });

    const insufficient = await call('/api/orders', reader, 'POST');
    expect(await expectJsonError(insufficient, 403, 'insufficient_scope')).toMatchObject({
      error: 'insufficient_scope',
      scope: ORDERS_WRITE,
    });
    expect(insufficient.headers.get('www-authenticate')).toMatch(
      // An API client: the challenge names the resource metadata (RFC 9728 §5.1).
      new RegExp(
        `^Bearer realm="kenni-edge", error="insufficient_scope", .*scope="${ORDERS_WRITE}", resource_metadata="https://[^"]+/\\.well-known/oauth-protected-resource"$`,
      ),
    );

    expect((await call('/api/public-data', reader)).status).toBe(200);
    const deniedGuest = await call('/api/public-data', guest);
    await expectJsonError(deniedGuest, 403, 'access_denied');
    expect(deniedGuest.headers.get('www-authenticate')).toBeNull();
  });

  it('claims of the token: a national_id rule passes Þórður and refuses Guðrún (JSON even for a navigation)', async () => {
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) => app.get('/api/admin', requireBearer({ rules: ADMINS }), ok));
    const as = async (who: typeof THORDUR | typeof GUDRUN) =>
      browser.fetch('/api/admin', {
        headers: { ...NAVIGATION, authorization: `Bearer ${await accessToken(setup, { ...who })}` },
        jar: false,
      });

    expect((await as(THORDUR)).status).toBe(200);
    await expectJsonError(await as(GUDRUN), 403, 'access_denied');
  });
});

describe('requireAccess(rules)', () => {
  it('decides the principal requireSession() or requireBearer() set, as they would', async () => {
    const setup = await setUpGateway();
    const sessionsOnly = requireAccess({ require: [{ auth: 'session' }] });
    const browser = appWith(setup, (app) => {
      app.get('/admin', requireSession(), requireAccess(ADMINS), ok);
      app.get('/api/session-only', requireBearer(), sessionsOnly, ok);
      app.get('/account/session-only', requireSession(), sessionsOnly, ok);
      app.post('/api/orders', requireBearer(), requireAccess({ require: [{ scope: [ORDERS_WRITE] }] }), ok);
    });
    await signIn(setup, { browser, claims: { ...GUDRUN } });
    await expectErrorPage(await browser.fetch('/admin', { headers: NAVIGATION }), 403, 'access_denied');
    expect((await browser.fetch('/account/session-only', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);

    const token = await accessToken(setup, { ...THORDUR, scope: API_SCOPE });
    const bearer = { authorization: `Bearer ${token}` };
    await expectJsonError(
      await browser.fetch('/api/session-only', { headers: bearer, jar: false }),
      403,
      'access_denied',
    );
    const orders = await browser.fetch('/api/orders', { method: 'POST', headers: bearer, jar: false });
    expect(await expectJsonError(orders, 403, 'insufficient_scope')).toMatchObject({ scope: ORDERS_WRITE });

    const thordur = appWith(setup, (app) => app.get('/admin', requireSession(), requireAccess(ADMINS), ok));
    await signIn(setup, { browser: thordur, claims: { ...THORDUR } });
    expect((await thordur.fetch('/admin', { headers: NAVIGATION })).status).toBe(200);
  });

  it('without a principal (no requireSession() or requireBearer() before it) it refuses: 500, never open', async () => {
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) =>
      app.get('/forgot', requireAccess({ allow: [{ everyone: true }] }), (c) => c.json({ open: true })),
    );

    await expectJsonError(await browser.fetch('/forgot', { headers: SAME_ORIGIN_FETCH }), 500, 'internal_error');
  });
});

describe('rules are validated once, when the middleware is created', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'an unknown condition',
      { allow: [{ nationl_id: ['0101302989'] }] },
      /"allow" holds an unknown condition "nationl_id"/,
    ],
    ['an unknown key', { alow: [{ everyone: true }] }, /"alow" is not a rule key/],
    ['a route key', { path: '/admin', allow: [{ everyone: true }] }, /"path" is not a rule key/],
    [
      'a national id of 9 digits',
      { require: [{ national_id: ['010130298'] }] },
      /"require" holds a "national_id" condition/,
    ],
    ['a padded national id', { deny: [{ national_id: ['0101302989 '] }] }, /"deny" holds a "national_id" condition/],
    [
      'two keys in one condition',
      { allow: [{ kind: 'person', min_age: 18 }] },
      /"allow" holds a condition that is not an object with exactly one key/,
    ],
    ['an empty list', { require: [] }, /"require" must be a non-empty list of conditions/],
    ['a negative max_auth_age', { max_auth_age: -1 }, /"max_auth_age" must be a whole number of seconds/],
    ['not an object', [{ everyone: true }], /must be an object/],
  ];

  it.each(cases)('%s: a ConfigError naming the middleware and the key', (_label, rules, message) => {
    for (const [where, build] of [
      ['requireSession({ rules })', () => requireSession({ rules: rules as AccessRuleSpec })],
      ['requireBearer({ rules })', () => requireBearer({ rules: rules as AccessRuleSpec })],
      ['requireAccess(rules)', () => requireAccess(rules as AccessRuleSpec)],
    ] as const) {
      const error = constructionError(build);
      expect(error.code).toBe('config_invalid');
      expect(error.problems.map((problem) => problem.variable)).toEqual(error.problems.map(() => where));
      expect(error.message).toMatch(message);
      expect(error.message.startsWith(`kenni-edge is not configured correctly: ${where}: `)).toBe(true);
    }
  });

  it('valid rules build without error, every condition of the contract', () => {
    const rules: AccessRuleSpec = {
      allow: [
        { everyone: true },
        { national_id: ['0101302989'] },
        { actor_national_id: ['0101302989'] },
        { sub: ['abc'] },
        { kind: 'company' },
        { min_age: 18 },
        { delegation: 'none' },
        { delegation: ['c:procurator'] },
        { scope: ['a', 'b'] },
        { auth: 'bearer' },
        { claim: { email: ['a@b.is'] } },
      ],
      require: [{ kind: 'person' }],
      deny: [{ delegation: 'any' }],
    };
    expect(typeof requireSession({ rules })).toBe('function');
    expect(typeof requireBearer({ rules })).toBe('function');
    expect(typeof requireAccess(rules)).toBe('function');
  });
});

describe('max_auth_age in the library (step-up, as the gateway decides it)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('requireSession({ rules: { max_auth_age } }) sends a stale navigation to a max_age login and answers a fetch with the RFC 9470 challenge; requireAccess does the same after requireBearer', async () => {
    const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const setup = await setUpGateway();
    const browser = appWith(setup, (app) => {
      app.get('/settings/*', requireSession({ rules: { max_auth_age: 60 } }), ok);
      app.get('/api/payouts', requireBearer(), requireAccess({ max_auth_age: 60 }), ok);
    });
    await signIn(setup, { browser, claims: { ...THORDUR } }); // the ID token's auth_time is T0

    // 60 s plus the 30 s CLOCK_TOLERANCE is still recent enough.
    vi.setSystemTime(T0 + 90_000);
    expect((await browser.fetch('/settings/bank', { headers: NAVIGATION })).status).toBe(200);

    vi.setSystemTime(T0 + 91_000);
    const navigation = await browser.fetch('/settings/bank?x=1', { headers: NAVIGATION });
    expect(navigation.status).toBe(302);
    expect(navigation.headers.get('location')).toBe('/auth/login?return_to=%2Fsettings%2Fbank%3Fx%3D1&max_age=60');
    const fetched = await browser.fetch('/settings/bank', { headers: SAME_ORIGIN_FETCH });
    expect(fetched.status).toBe(401);
    expect(fetched.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="kenni-edge", error="insufficient_user_authentication", error_description="[^"]+", max_age=60$/,
    );

    const t0 = T0 / 1000;
    const call = async (authTime: number | undefined) => {
      const token = await accessToken(setup, { sub: 'payout-clerk', scope: API_SCOPE, auth_time: authTime });
      return browser.fetch('/api/payouts', { headers: { authorization: `Bearer ${token}` }, jar: false });
    };
    expect((await call(t0 + 60)).status).toBe(200);
    for (const stale of [t0, undefined]) {
      const refused = await call(stale);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_user_authentication"');
      expect(refused.headers.get('www-authenticate')).toContain('max_age=60');
    }
  });
});
