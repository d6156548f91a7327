/**
 * Logs (DESIGN.md): one JSON line per auth event with a stable reason, and
 * never a token, secret, code, national id or full cookie. This runs a whole
 * life against the real local provider (login, pages, API calls with a
 * forwarded token, a refresh, bearer calls good and bad, logout) and checks
 * every line the edge wrote.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Env } from '../../src/config.ts';
import { logEvent } from '../../src/log.ts';
import { createTestEdge } from '../support/edge.ts';
import { expectEveryLineFollowsLogRule, testLines } from '../support/log-capture.ts';
import {
  CROSS_SITE_FETCH,
  CROSS_SITE_NAVIGATION,
  EDGE_ORIGIN,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  THORDUR,
} from '../support/presets.ts';
import { signInAtProvider } from '../support/provider-login.ts';
import { SESSION_COOKIE } from '../support/scripted-login.ts';

const bindings = env as unknown as Env;
const ISSUER = String(bindings.KENNI_ISSUER);
const NATIONAL_ID = THORDUR.national_id;
/** A same-origin `fetch()` that names its Origin (as browsers do for POST). */
const SAME_ORIGIN = { ...SAME_ORIGIN_FETCH, origin: EDGE_ORIGIN };

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every console line of the running test (captured by test/support/setup-logs.ts), whatever the method. */
function writtenLines(): string[] {
  return testLines().map(({ text }) => text);
}

/** A client-credentials token from the real provider (RFC 6749 §2.3.1 Basic). */
async function machineToken(scope: string): Promise<string> {
  const form = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  const credentials = btoa(
    `${form(String(bindings.KENNI_M2M_CLIENT_ID))}:${form(String(bindings.KENNI_M2M_CLIENT_SECRET))}`,
  );
  const response = await fetch(`${ISSUER}/oidc/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${credentials}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

describe("the edge's log lines over a whole session", () => {
  it('are JSON auth events with reasons, and never carry a token, code, secret, national id or the session cookie', async () => {
    const edge = createTestEdge({ SESSION_LOCKS: undefined });
    const secrets: string[] = [
      String(bindings.SESSION_SECRET),
      String(bindings.KENNI_CLIENT_SECRET),
      String(bindings.KENNI_M2M_CLIENT_SECRET),
      NATIONAL_ID,
    ];

    const login = await edge.fetch('/auth/login?return_to=/account', { headers: NAVIGATION });
    const { callbackUrl } = await signInAtProvider(login.headers.get('location')!, { login: NATIONAL_ID });
    secrets.push(new URL(callbackUrl).searchParams.get('code')!, new URL(callbackUrl).searchParams.get('state')!);
    expect((await edge.fetch(callbackUrl, { headers: CROSS_SITE_NAVIGATION })).status).toBe(302);
    secrets.push(edge.jar.get(SESSION_COOKIE)!);

    expect((await edge.fetch('/', { headers: NAVIGATION })).status).toBe(200);
    const whoami = await edge.fetch('/api/whoami', { headers: SAME_ORIGIN });
    expect(whoami.status).toBe(200);
    expect((await edge.fetch('/auth/refresh', { method: 'POST', headers: SAME_ORIGIN })).status).toBe(200);
    expect((await edge.fetch('/api/whoami', { method: 'POST', headers: CROSS_SITE_FETCH })).status).toBe(403);

    const good = await machineToken('@dev-team.is/api.read');
    const narrow = await machineToken('openid');
    secrets.push(good, narrow, good.split('.')[2]!);
    expect((await edge.fetch('/auth/verify', { headers: { authorization: `Bearer ${good}` } })).status).toBe(200);
    expect(
      (
        await edge.fetch('/auth/verify?scope=%40dev-team.is%2Fapi.write', {
          headers: { authorization: `Bearer ${good}` },
        })
      ).status,
    ).toBe(403);
    // Opaque (no API scope asked for): introspected, and refused for want of KENNI_API_SCOPE.
    expect((await edge.fetch('/api/whoami', { headers: { authorization: `Bearer ${narrow}` } })).status).toBe(403);
    expect(
      (await edge.fetch('/api/whoami', { headers: { authorization: `Bearer ${good.slice(0, -4)}AAAA` } })).status,
    ).toBe(401);

    expect((await edge.fetch('/auth/logout', { headers: NAVIGATION })).status).toBe(302);

    const lines = writtenLines();
    const events = lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; reason?: string });
    expect(events.map((entry) => entry.event)).toEqual(
      expect.arrayContaining([
        'login_started',
        'login_succeeded',
        'refreshed',
        'request_refused',
        'bearer_rejected',
        'logged_out',
      ]),
    );
    for (const entry of events.filter((item) => /_(failed|rejected|refused)$/.test(item.event)))
      expect(entry.reason).toMatch(/^[a-z_:]+$/);
    // The shared rule (also applied to the error paths in test/gateway/log-rule.test.ts).
    expectEveryLineFollowsLogRule(lines, secrets);
    const text = lines.join('\n');
    for (const secret of secrets) expect(text).not.toContain(secret);
    // No JWT of any kind (three base64url segments starting with a JSON header).
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./);
  });
});

describe('a national id in a request path', () => {
  /** Every run of six or more digits in the written lines. */
  const digitRuns = () =>
    writtenLines()
      .join('\n')
      .match(/\d{6,}/g) ?? [];

  it('is masked in the path of every event the edge writes for it', async () => {
    const edge = createTestEdge({ SESSION_LOCKS: undefined });
    const forged = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA';

    for (const path of [
      `/api/people/${NATIONAL_ID}`,
      `/api/people/${NATIONAL_ID}/orders`,
      '/api/people/%30%31%30%31%33%30%32%39%38%39',
      `/api/people/x${NATIONAL_ID}y`,
    ]) {
      expect((await edge.fetch(path, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
      expect(
        (await edge.fetch(path, { method: 'POST', headers: { ...CROSS_SITE_FETCH, authorization: 'Bearer !' } }))
          .status,
      ).toBe(400);
    }

    const events = writtenLines()
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event: string; path?: string });
    expect(events.filter((entry) => entry.event === 'bearer_rejected').map((entry) => entry.path)).toEqual([
      '/api/people/******',
      '/api/people/******',
      '/api/people/******/orders',
      '/api/people/******/orders',
      '/api/people/******',
      '/api/people/******',
      '/api/people/x******y',
      '/api/people/x******y',
    ]);
    expect(digitRuns()).toEqual([]);
  });

  it('is masked centrally in every string field that can carry request data (path, detail, reason), shorter runs kept', () => {
    logEvent('internal_error', {
      path: `/a/${NATIONAL_ID}/b/12345/c/010130-2989`,
      detail: `kennitala ${NATIONAL_ID}`,
      reason: `token_endpoint_${NATIONAL_ID}`,
      session: 'abcdef01a345',
    });

    const [line] = writtenLines();
    expect(JSON.parse(line!)).toMatchObject({
      path: '/a/******/b/12345/c/******-2989',
      detail: 'kennitala ******',
      reason: 'token_endpoint_******',
      session: 'abcdef01a345',
    });
    expect(digitRuns()).toEqual([]);
  });
});
