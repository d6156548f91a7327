/**
 * Cross-site request forgery at the gateway (issue #4): a state-changing
 * request (anything but GET, HEAD, OPTIONS) that another site could make with
 * the user's session cookie is refused with 403 `cross_site_request` and never
 * reaches the origin. Same-origin requests, bearer-authenticated API calls and
 * cross-site navigations (GET) are forwarded.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testEvents } from '../support/log-capture.ts';
import {
  accessToken,
  CROSS_SITE_NAVIGATION,
  expectJsonError,
  SESSION_COOKIE,
  setUpGateway,
  signIn,
  type GatewaySetup,
  type SignedIn,
} from './helpers.ts';

const STATE_CHANGING = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Signals that say the request comes from another site. */
const CROSS_SITE: Array<[string, Record<string, string>]> = [
  ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' }],
  ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors' }],
  ['a foreign Origin, no fetch metadata', { origin: 'https://evil.example' }],
  ['Origin: null (sandboxed frame, data: URL)', { origin: 'null' }],
  ['an Origin on another scheme', { origin: 'http://edge.test' }],
  ['an Origin on another port', { origin: 'https://edge.test:8443' }],
  ['a sibling subdomain as Origin', { origin: 'https://app.edge.test' }],
  [
    'Sec-Fetch-Site: same-origin but a foreign Origin',
    { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
  ],
  [
    'a form post from another site',
    {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      origin: 'https://evil.example',
      'content-type': 'application/x-www-form-urlencoded',
    },
  ],
];

/** Signals of a request from the edge's own pages (or a client that sends none). */
const SAME_ORIGIN: Array<[string, Record<string, string>]> = [
  ['Sec-Fetch-Site: same-origin', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }],
  ['a matching Origin, no fetch metadata', { origin: 'https://edge.test' }],
  [
    'Sec-Fetch-Site: same-origin and a matching Origin',
    { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', origin: 'https://edge.test' },
  ],
  ['no Origin and no fetch metadata (a non-browser client)', {}],
];

afterEach(() => {
  vi.restoreAllMocks();
});

function loggedEvents(): Array<Record<string, unknown>> {
  return testEvents();
}

async function signedInSetup(): Promise<GatewaySetup & { session: SignedIn }> {
  const setup = await setUpGateway();
  const session = await signIn(setup);
  for (const method of STATE_CHANGING) {
    await setup.routeOrigin(method, '/account/profile', { json: { changed: true } });
    await setup.routeOrigin(method, '/api/orders', { status: 201, json: { created: true } });
  }
  return { ...setup, session };
}

describe('a cross-site state-changing request authenticated by the session cookie alone', () => {
  for (const method of STATE_CHANGING) {
    it.each(CROSS_SITE)(
      `${method} with %s is refused with 403 cross_site_request and not forwarded`,
      async (_label, headers) => {
        const setup = await signedInSetup();

        for (const path of ['/account/profile', '/api/orders']) {
          const response = await setup.edge.fetch(path, {
            method,
            headers: { ...headers, 'content-type': headers['content-type'] ?? 'application/json' },
            body: method === 'DELETE' ? null : '{"name":"x"}',
          });
          const body = await expectJsonError(response, 403, 'cross_site_request', path);
          expect(body.error).toBe('cross_site_request');
          expect(response.headers.get('location')).toBeNull();
          expect(response.headers.get('cache-control')).toBe('no-store');
        }
        expect(await setup.originRequests()).toEqual([]);
        // The session itself is untouched: the user is still signed in.
        expect((await setup.edge.fetch('/auth/me')).status).toBe(200);
      },
    );
  }

  it('is logged as request_refused with reason cross_site_request', async () => {
    const setup = await signedInSetup();

    await setup.edge.fetch('/account/profile', {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
      body: 'x',
    });

    const refused = loggedEvents().filter((event) => event.event === 'request_refused');
    expect(refused).toEqual([
      expect.objectContaining({ reason: 'cross_site_request', method: 'POST', path: '/account/profile' }),
    ]);
    expect(JSON.stringify(refused)).not.toContain(setup.session.sessionId);
  });
});

describe('requests that are not cross-site forgeries are forwarded', () => {
  for (const method of STATE_CHANGING) {
    it.each(SAME_ORIGIN)(`${method} with %s reaches the origin with the method and body`, async (_label, headers) => {
      const setup = await signedInSetup();

      const page = await setup.edge.fetch('/account/profile', {
        method,
        headers: { ...headers, 'content-type': 'application/json' },
        body: '{"name":"Þórður"}',
      });
      const api = await setup.edge.fetch('/api/orders', {
        method,
        headers: { ...headers, 'content-type': 'application/json' },
        body: '{"item":1}',
      });

      expect(page.status).toBe(200);
      expect(await page.json()).toEqual({ changed: true });
      expect(api.status).toBe(201);
      const requests = await setup.originRequests();
      expect(requests.map((request) => `${request.method} ${request.path} ${request.body}`)).toEqual([
        `${method} /origin/account/profile {"name":"Þórður"}`,
        `${method} /origin/api/orders {"item":1}`,
      ]);
      for (const request of requests) expect(request.headers['x-kenni-sub']).toBe(setup.session.sub);
    });
  }

  it('forwards a cross-site POST to an API path authenticated by a bearer token (no ambient credential), even with a session cookie along', async () => {
    const setup = await signedInSetup();
    const token = await accessToken(setup, { sub: 'partner-service' });

    for (const headers of [
      { 'sec-fetch-site': 'cross-site', origin: 'https://partner.example' },
      { origin: 'null' },
    ] as Array<Record<string, string>>) {
      const response = await setup.edge.fetch('/api/orders', {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"item":2}',
      });
      expect(response.status).toBe(201);
    }
    const requests = await setup.originRequests();
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.headers['x-kenni-sub']).toBe('partner-service');
      expect(request.headers['x-kenni-auth']).toBe('bearer');
      expect(request.headers.authorization).toBe(`Bearer ${token}`);
      expect(request.headers.cookie).toBeUndefined();
    }
  });

  it('forwards a cross-site GET with a session (following a link from another site is normal), and HEAD', async () => {
    const setup = await signedInSetup();
    await setup.routeOrigin('GET', '/account', { body: 'account page' });
    await setup.routeOrigin('HEAD', '/account', { status: 200 });

    const get = await setup.edge.fetch('/account', { headers: CROSS_SITE_NAVIGATION });
    const head = await setup.edge.fetch('/account', {
      method: 'HEAD',
      headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    });

    expect(get.status).toBe(200);
    expect(await get.text()).toBe('account page');
    expect(head.status).toBe(200);
    expect(
      (await setup.originRequests()).map((request) => `${request.method} ${request.headers['x-kenni-sub']}`),
    ).toEqual([`GET ${setup.session.sub}`, `HEAD ${setup.session.sub}`]);
  });

  it('forwards a cross-site POST to a public path: no session is used there, so there is nothing to forge', async () => {
    const setup = await signedInSetup();
    await setup.routeOrigin('POST', '/public/contact', { status: 202 });

    const response = await setup.edge.fetch('/public/contact', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      body: 'hello',
    });

    expect(response.status).toBe(202);
    const [request] = await setup.originRequests();
    expect(request!.headers['x-kenni-sub']).toBeUndefined();
    expect(request!.headers.cookie).toBeUndefined();
  });

  it('answers 401, not 403, to a cross-site POST without any session: there is no session to protect', async () => {
    const setup = await setUpGateway();

    const response = await setup.edge.fetch('/account/profile', {
      method: 'POST',
      headers: { origin: 'https://evil.example', cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` },
      body: 'x',
      jar: false,
    });

    await expectJsonError(response, 401, 'session_required');
    expect(await setup.originRequests()).toEqual([]);
  });
});
