/**
 * When the origin fails (issue #4): unreachable (connection refused or reset)
 * is 502 `origin_unreachable`, no response head within `ORIGIN_TIMEOUT` is 504
 * `origin_timeout`; JSON for programmatic requests and API paths, an error
 * page for page navigations; each logged as `origin_failed`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testEvents } from '../support/log-capture.ts';
import {
  closedPort,
  edgeWithOriginDown,
  expectErrorPage,
  expectJsonError,
  NAVIGATION,
  SAME_ORIGIN_FETCH,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
} from './helpers.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

function originFailures(): Array<Record<string, unknown>> {
  return testEvents().filter((event) => event.event === 'origin_failed');
}

describe('origin unreachable', () => {
  it('answers 502 origin_unreachable when the connection is refused: JSON to a fetch, an error page to a navigation', async () => {
    const probe = await setUpGateway();
    const port = await closedPort(probe.provider);
    const setup = await setUpGateway({ edge: { ORIGIN_URL: `http://127.0.0.1:${port}/app` } });

    const fetched = await setup.edge.fetch('/public/x', { headers: SAME_ORIGIN_FETCH });
    const body = await expectJsonError(fetched, 502, 'origin_unreachable');
    expect(body.error).toBe('origin_unreachable');
    expect(fetched.headers.get('cache-control')).toBe('no-store');
    expect(fetched.headers.get('www-authenticate')).toBeNull();

    await expectErrorPage(await setup.edge.fetch('/public/x', { headers: NAVIGATION }), 502, 'origin_unreachable');

    expect(originFailures()).toEqual([
      expect.objectContaining({ level: 'warn', reason: 'origin_unreachable', status: 502, path: '/public/x' }),
      expect.objectContaining({ level: 'warn', reason: 'origin_unreachable', status: 502, path: '/public/x' }),
    ]);
  });

  it('answers 502 for signed-in pages and API calls too, JSON on API paths even for a navigation', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    const broken = await edgeWithOriginDown(setup);
    const cookie = `${SESSION_COOKIE}=${setup.edge.jar.get(SESSION_COOKIE)!}`;

    await expectErrorPage(
      await broken.fetch('/account', { headers: { ...NAVIGATION, cookie } }),
      502,
      'origin_unreachable',
    );
    await expectJsonError(
      await broken.fetch('/account', { headers: { ...SAME_ORIGIN_FETCH, cookie } }),
      502,
      'origin_unreachable',
    );
    await expectJsonError(
      await broken.fetch('/api/orders', { headers: { ...NAVIGATION, cookie } }),
      502,
      'origin_unreachable',
    );
  });

  it('answers 502 when the origin resets the connection instead of answering', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/reset', { destroy: true });

    await expectJsonError(
      await setup.edge.fetch('/public/reset', { headers: SAME_ORIGIN_FETCH }),
      502,
      'origin_unreachable',
    );
    await expectErrorPage(await setup.edge.fetch('/public/reset', { headers: NAVIGATION }), 502, 'origin_unreachable');
  });

  it("passes the origin's own 502 and 504 through as they are (they are answers, not failures)", async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/x', [
      { status: 502, body: 'upstream of the origin failed' },
      { status: 504, body: 'slow database' },
    ]);

    const first = await setup.edge.fetch('/public/x');
    const second = await setup.edge.fetch('/public/x');

    expect([first.status, await first.text()]).toEqual([502, 'upstream of the origin failed']);
    expect([second.status, await second.text()]).toEqual([504, 'slow database']);
    expect(originFailures()).toEqual([]);
  });
});

describe('origin too slow', () => {
  it('answers 504 origin_timeout when no response head arrives within ORIGIN_TIMEOUT: JSON to a fetch, an error page to a navigation', async () => {
    const setup = await setUpGateway({ edge: { ORIGIN_TIMEOUT: '1' } });
    await setup.routeOrigin('GET', '/public/slow', { hang: true });
    await setup.routeOrigin('POST', '/public/slow', { hang: true });
    const started = Date.now();

    // Concurrently, so the test waits for one timeout, not three.
    const [fetched, navigation, posted] = await Promise.all([
      setup.edge.fetch('/public/slow', { headers: SAME_ORIGIN_FETCH }),
      setup.edge.fetch('/public/slow', { headers: NAVIGATION }),
      setup.edge.fetch('/public/slow', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      }),
    ]);

    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const body = await expectJsonError(fetched, 504, 'origin_timeout');
    expect(body.error).toBe('origin_timeout');
    await expectErrorPage(navigation, 504, 'origin_timeout');
    await expectJsonError(posted, 504, 'origin_timeout');
    expect(originFailures().map((event) => [event.reason, event.status])).toEqual([
      ['origin_timeout', 504],
      ['origin_timeout', 504],
      ['origin_timeout', 504],
    ]);
  });

  it('waits for a response head that is late but within ORIGIN_TIMEOUT', async () => {
    const setup = await setUpGateway({ edge: { ORIGIN_TIMEOUT: '2' } });
    await setup.routeOrigin('GET', '/public/x', { delayMs: 300, body: 'made it' });

    const response = await setup.edge.fetch('/public/x');

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('made it');
  });
});

describe('no origin configured', () => {
  it('answers 404 origin_not_configured when ORIGIN_URL is not set, and never tries to forward', async () => {
    const setup = await setUpGateway({ edge: { ORIGIN_URL: undefined } });

    await expectJsonError(
      await setup.edge.fetch('/public/x', { headers: SAME_ORIGIN_FETCH }),
      404,
      'origin_not_configured',
    );
    await expectErrorPage(await setup.edge.fetch('/public/x', { headers: NAVIGATION }), 404, 'origin_not_configured');
  });
});
