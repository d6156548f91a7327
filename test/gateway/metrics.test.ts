/**
 * Metrics (issue #13, item 5): with a Workers Analytics Engine dataset bound
 * as `METRICS`, one data point per auth decision: blobs `[event/outcome,
 * route, reason]`, double 1, index `event`. The route is the matched route's
 * configured path, never the request path; no point carries a subject, a
 * national id (no run of six or more digits), a token or a client's path.
 * The binding is a test double here: it is a binding, not our module.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config.ts';
import { createKenniEdge, kenniConfig, requireBearer, type AppEnv } from '../../src/index.ts';
import { EDGE_ORIGIN } from '../support/edge.ts';
import { CROSS_SITE_FETCH, GUDRUN, THORDUR } from '../support/presets.ts';
import { tokenResponse } from '../support/scripted-provider.ts';
import {
  accessToken,
  CROSS_SITE_NAVIGATION,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  setUpGateway,
  signIn,
  type GatewaySetup,
} from './helpers.ts';

/** A dataset binding that keeps what is written to it. */
function fakeDataset(): { binding: AnalyticsEngineDataset; points: AnalyticsEngineDataPoint[] } {
  const points: AnalyticsEngineDataPoint[] = [];
  return { binding: { writeDataPoint: (point) => void points.push(point ?? {}) }, points };
}

/** Every point written in the current test, checked for what must never be in one after each test. */
let written: AnalyticsEngineDataPoint[][] = [];
let secrets: string[] = [];

afterEach(() => {
  for (const point of written.flat()) {
    const values = [...(point.blobs ?? []), ...(point.indexes ?? [])].map(String);
    expect(point.doubles).toEqual([1]);
    expect(point.indexes).toHaveLength(1);
    expect(point.blobs).toHaveLength(3);
    for (const value of values) {
      expect(value, 'a run of six or more digits').not.toMatch(/[0-9]{6}/);
      for (const secret of secrets) expect(value).not.toContain(secret);
    }
  }
  written = [];
  secrets = [];
});

/** A gateway with a fake METRICS dataset; `summary()` is each point as `event/outcome route reason`. */
async function setUp(
  edge: Record<string, unknown> = {},
): Promise<GatewaySetup & { points: AnalyticsEngineDataPoint[]; summary(): string[]; clear(): void }> {
  const dataset = fakeDataset();
  written.push(dataset.points);
  const setup = await setUpGateway({ edge: { METRICS: dataset.binding, SESSION_LOCKS: undefined, ...edge } });
  return {
    ...setup,
    points: dataset.points,
    summary: () =>
      dataset.points.map((point) => {
        expect(point.indexes![0]).toBe(String(point.blobs![0]).split('/')[0]);
        return (point.blobs ?? []).join(' ');
      }),
    clear: () => void dataset.points.splice(0),
  };
}

describe('METRICS data points', () => {
  it('counts a sign-in: login started, then login succeeded at the callback, as exact data points', async () => {
    const setup = await setUp();

    const { sub } = await signIn(setup);
    secrets.push(sub);

    expect(setup.points).toEqual([
      { indexes: ['login'], blobs: ['login/started', '/auth/login', 'ok'], doubles: [1] },
      { indexes: ['login'], blobs: ['login/succeeded', '/auth/callback', 'ok'], doubles: [1] },
    ]);
  });

  it('counts a failed callback with its reason code', async () => {
    const setup = await setUp();

    const response = await setup.edge.fetch('/auth/callback?code=x&state=y', { headers: CROSS_SITE_NAVIGATION });

    expect(response.status).toBe(400);
    expect(setup.summary()).toEqual(['login/failed /auth/callback login_state_missing']);
  });

  it('counts gateway passes by route and by how the caller was authenticated, never the request path', async () => {
    const setup = await setUp();
    await setup.routeOrigin('GET', '/account/0101302989', { status: 200, body: 'ok' });
    await setup.routeOrigin('GET', `/api/people/${THORDUR.national_id}`, { json: {} });
    const token = await accessToken(setup, { ...THORDUR });
    const { sub } = await signIn(setup);
    secrets.push(sub, token, THORDUR.sub, THORDUR.national_id);
    setup.clear();

    expect((await setup.edge.fetch('/account/0101302989', { headers: NAVIGATION })).status).toBe(200);
    const bearer = await setup.edge.fetch(`/api/people/${THORDUR.national_id}`, {
      headers: { authorization: `Bearer ${token}` },
      jar: false,
    });
    expect(bearer.status).toBe(200);

    expect(setup.summary()).toEqual(['gateway/passed / session', 'gateway/passed /api/ bearer']);
  });

  it('counts refusals by reason: bearer rejected, no session, sign-in required, cross-site, ambiguous path', async () => {
    const setup = await setUp();
    await signIn(setup);
    setup.clear();
    const anonymous = { jar: false } as const;

    await setup.edge.fetch('/api/orders', { ...anonymous, headers: { authorization: 'Bearer abc.def.ghi' } });
    await setup.edge.fetch('/api/orders', { ...anonymous, headers: { authorization: 'Bearer a b' } });
    await setup.edge.fetch('/api/orders', { ...anonymous, headers: SAME_ORIGIN_FETCH });
    await setup.edge.fetch('/account', { ...anonymous, headers: NAVIGATION });
    await setup.edge.fetch('/account', { method: 'POST', headers: CROSS_SITE_FETCH, body: 'x' });
    await setup.edge.fetch('/api/orders%2F..%2F..%2Faccount', { ...anonymous, headers: SAME_ORIGIN_FETCH });

    expect(setup.summary()).toEqual([
      'bearer/rejected /api/ malformed',
      'bearer/rejected /api/ malformed_header',
      'gateway/refused /api/ no_session',
      'gateway/login_required / no_session',
      'session/refused / cross_site_request',
      'gateway/refused (ambiguous) path_ambiguous',
    ]);
  });

  it('counts an access refusal by the route rules and a missing scope', async () => {
    const setup = await setUp({
      ROUTES: JSON.stringify([{ path: '/admin', allow: [{ national_id: [THORDUR.national_id] }] }]),
      KENNI_API_SCOPE: '@dev-team.is/api.read @dev-team.is/api.write',
    });
    await signIn(setup, { claims: { ...GUDRUN } });
    const token = await accessToken(setup, { scope: '@dev-team.is/api.read' });
    secrets.push(GUDRUN.sub, GUDRUN.national_id, token);
    setup.clear();

    expect((await setup.edge.fetch('/admin', { headers: SAME_ORIGIN_FETCH })).status).toBe(403);
    const scoped = await setup.edge.fetch('/api/orders', { headers: { authorization: `Bearer ${token}` }, jar: false });
    expect(scoped.status).toBe(403);

    expect(setup.summary()).toEqual(['access/denied /admin access_denied', 'bearer/rejected /api/ insufficient_scope']);
  });

  it('counts a step-up: a sign-in too old for the route, for a navigation (302) and a fetch (401)', async () => {
    const setup = await setUp({ ROUTES: JSON.stringify([{ path: '/step', max_auth_age: 60 }]) });
    const signedInAt = Math.floor(Date.now() / 1000) - 3600;
    await signIn(setup, { claims: { ...THORDUR, auth_time: signedInAt } });
    setup.clear();

    expect((await setup.edge.fetch('/step', { headers: NAVIGATION })).status).toBe(302);
    expect((await setup.edge.fetch('/step', { headers: SAME_ORIGIN_FETCH })).status).toBe(401);

    expect(setup.summary()).toEqual([
      'step_up/required /step step_up_required',
      'step_up/required /step step_up_required',
    ]);
  });

  it('counts refreshes: one the gateway needed, and POST /auth/refresh (succeeded and refused)', async () => {
    const setup = await setUp();
    await signIn(setup, { accessToken: 'about-to-expire', expiresIn: 30 });
    await setup.provider.serveToken(
      tokenResponse({ access_token: 'fresh-access-token', expires_in: 3600, refresh_token: 'refresh-2' }),
    );
    await setup.routeOrigin('GET', '/api/me', { json: {} });
    setup.clear();

    expect((await setup.edge.fetch('/api/me', { headers: SAME_ORIGIN_FETCH })).status).toBe(200);
    const refreshed = await setup.edge.fetch('/auth/refresh', { method: 'POST', headers: SAME_ORIGIN_FETCH });
    expect(refreshed.status).toBe(200);
    const anonymous = await setup.edge.fetch('/auth/refresh', {
      method: 'POST',
      headers: SAME_ORIGIN_FETCH,
      jar: false,
    });
    expect(anonymous.status).toBe(401);

    expect(setup.summary()).toEqual([
      'refresh/succeeded /api/ ok',
      'gateway/passed /api/ session',
      'refresh/succeeded /auth/refresh ok',
      'refresh/refused /auth/refresh no_session',
    ]);
  });

  it('counts logouts and refused cross-site logouts; /auth/verify as bearer decisions', async () => {
    const setup = await setUp();
    const token = await accessToken(setup);
    secrets.push(token);
    await signIn(setup);
    setup.clear();

    await setup.edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${token}` }, jar: false });
    await setup.edge.fetch('/auth/verify', { jar: false });
    await setup.edge.fetch('/auth/logout', { headers: CROSS_SITE_NAVIGATION });
    await setup.edge.fetch('/auth/logout', { headers: NAVIGATION });

    expect(setup.summary()).toEqual([
      'bearer/accepted /auth/verify ok',
      'bearer/rejected /auth/verify missing',
      'logout/refused /auth/logout cross_site_request',
      'logout/succeeded /auth/logout ok',
    ]);
  });

  it('writes nothing for requests that decide nothing: public paths, health, metadata, /auth/me, preflights', async () => {
    const setup = await setUp();
    await setup.routeOrigin('GET', '/public/x', { status: 200, body: 'ok' });
    await setup.routeOrigin('OPTIONS', '/api/orders', { status: 204 });

    await setup.edge.fetch('/public/x');
    await setup.edge.fetch('/auth/health');
    await setup.edge.fetch('/.well-known/oauth-protected-resource');
    await setup.edge.fetch('/auth/me', { headers: SAME_ORIGIN_FETCH });
    await setup.edge.fetch('/api/orders', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.is', 'access-control-request-method': 'POST' },
    });

    expect(setup.points).toEqual([]);
  });

  it('names the Hono route pattern in your own app (requireBearer), once per request', async () => {
    const setup = await setUp();
    const dataset = fakeDataset();
    written.push(dataset.points);
    const app = new Hono<AppEnv>();
    app.use('*', kenniConfig());
    app.route('/', createKenniEdge({ gateway: false })); // its middleware sees the request too: still one point
    app.get('/api/people/:id', requireBearer(), (c) => c.json({ ok: true }));
    const testEnv = {
      ...(env as unknown as Env),
      KENNI_ISSUER: setup.provider.issuer,
      METRICS: dataset.binding,
    } as Env;
    const token = await accessToken(setup);
    for (const authorization of [`Bearer ${token}`, 'Bearer abc.def.ghi']) {
      const ctx = createExecutionContext();
      await app.fetch(
        new Request(`${EDGE_ORIGIN}/api/people/0101302989`, { headers: { authorization } }),
        testEnv,
        ctx,
      );
      await waitOnExecutionContext(ctx);
    }

    expect(dataset.points.map((point) => point.blobs!.join(' '))).toEqual([
      'gateway/passed /api/people/:id bearer',
      'bearer/rejected /api/people/:id malformed',
    ]);
  });

  it('never breaks a request: a dataset that throws, or none bound', async () => {
    const broken = await setUpGateway({
      edge: {
        METRICS: {
          writeDataPoint: () => {
            throw new Error('over quota');
          },
        },
      },
    });
    const none = await setUpGateway({ edge: { METRICS: undefined } });
    for (const setup of [broken, none]) {
      const response = await setup.edge.fetch('/auth/login', { headers: NAVIGATION });
      expect(response.status).toBe(302);
    }
  });
});
