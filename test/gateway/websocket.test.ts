/**
 * WebSocket upgrades through the gateway (issue #4): an authenticated upgrade
 * reaches the origin with the identity headers and gets 101 and a working
 * socket; without a session a page path refuses the upgrade. The scripted
 * origin does the RFC 6455 handshake itself and echoes every message.
 */
import { describe, expect, it } from 'vitest';
import { EDGE_ORIGIN } from '../support/presets.ts';
import { expectSessionRequired, identityHeadersOf, SESSION_COOKIE, setUpGateway, signIn } from './helpers.ts';

/** What a browser sends with `new WebSocket('wss://edge.test/…')` from the edge's own page. */
const WEBSOCKET_HANDSHAKE = {
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-fetch-mode': 'websocket',
  'sec-fetch-dest': 'websocket',
  'sec-fetch-site': 'same-origin',
  origin: EDGE_ORIGIN,
};

/** Accepts the client end, sends `message`, and resolves with the first message echoed back. */
async function echoOnce(socket: WebSocket, message: string | ArrayBuffer): Promise<string | ArrayBuffer | Blob> {
  const received = new Promise<string | ArrayBuffer | Blob>((resolve, reject) => {
    socket.addEventListener('message', (event) => resolve(event.data as string | ArrayBuffer | Blob), { once: true });
    socket.addEventListener('close', () => reject(new Error('closed before the echo')), { once: true });
    socket.addEventListener('error', () => reject(new Error('socket error')), { once: true });
  });
  socket.send(message);
  return received;
}

/** A binary message's bytes (workerd hands them over as a Blob or an ArrayBuffer). */
async function bytesOf(data: string | ArrayBuffer | Blob): Promise<ArrayBuffer> {
  if (typeof data === 'string') throw new TypeError('expected a binary message');
  return data instanceof Blob ? data.arrayBuffer() : data;
}

describe('WebSocket upgrades', () => {
  it('forwards an authenticated upgrade: 101, a working socket (text and binary echo), and the identity at the origin', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup, { claims: { name: 'Þórður Ævarsson', national_id: '0101302989' } });
    await setup.routeOrigin('GET', '/live/feed', { websocket: 'echo' });

    const response = await setup.edge.fetch('/live/feed?room=1', {
      headers: {
        ...WEBSOCKET_HANDSHAKE,
        cookie: `theme=dark; ${SESSION_COOKIE}=${setup.edge.jar.get(SESSION_COOKIE)!}`,
      },
    });

    expect(response.status).toBe(101);
    expect(response.webSocket).toBeInstanceOf(WebSocket);
    const socket = response.webSocket!;
    socket.accept();
    expect(await echoOnce(socket, 'Halló, Þórður! 👋')).toBe('Halló, Þórður! 👋');
    const binary = Uint8Array.from([0, 1, 2, 250, 251, 255]);
    const echoed = await echoOnce(socket, binary.slice().buffer);
    expect(new Uint8Array(await bytesOf(echoed))).toEqual(binary);
    socket.close(1000, 'done');

    const [request, ...rest] = await setup.originRequests();
    expect(rest).toEqual([]);
    expect(request).toMatchObject({ method: 'GET', path: '/origin/live/feed', search: '?room=1' });
    expect(request!.headers.upgrade).toBe('websocket');
    expect(request!.headers['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/); // RFC 6455 §4.1: a base64 16-byte nonce
    const identity = identityHeadersOf(request!);
    expect(identity['x-kenni-sub']).toBe(sub);
    expect(identity['x-kenni-national-id']).toBe('0101302989');
    expect(decodeURIComponent(identity['x-kenni-name']!)).toBe('Þórður Ævarsson');
    expect(identity['x-kenni-assertion']).toMatch(/^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/);
    expect(request!.headers.cookie).toBe('theme=dark');
    // The browser's Origin reaches the origin, so it can refuse a cross-origin socket itself.
    expect(request!.headers.origin).toBe(EDGE_ORIGIN);
  });

  it("drops a 101's Set-Cookie that would set or clear the edge's cookies, keeps the origin's own, and the socket still works", async () => {
    const setup = await setUpGateway();
    const { sessionId } = await signIn(setup);
    const cookies = [
      'ws_room=1; Path=/; HttpOnly',
      `${SESSION_COOKIE}=attacker-session; Path=/; Secure; HttpOnly`,
      `${SESSION_COOKIE}=; Path=/; Max-Age=0; Secure`,
      '__Host-kenni-login-abc=forged; Path=/; Secure',
      'theme=dark; Path=/',
    ];
    await setup.routeOrigin('GET', '/live/feed', {
      websocket: 'echo',
      headers: { 'set-cookie': cookies, 'clear-site-data': '"cookies", "cache"', 'x-origin': 'yes' },
    });

    const response = await setup.edge.fetch('/live/feed', { headers: WEBSOCKET_HANDSHAKE });

    expect(response.status).toBe(101);
    expect(response.headers.getSetCookie()).toEqual(['ws_room=1; Path=/; HttpOnly', 'theme=dark; Path=/']);
    expect(response.headers.get('clear-site-data')).toBe('"cache"');
    expect(response.headers.get('x-origin')).toBe('yes');
    const socket = response.webSocket!;
    socket.accept();
    expect(await echoOnce(socket, 'still open')).toBe('still open');
    socket.close(1000);
    expect(setup.edge.jar.get(SESSION_COOKIE)).toBe(sessionId);
    expect((await setup.edge.fetch('/auth/me', { headers: { 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
  });

  it('refuses an upgrade to a page path without a session (401 JSON, never a redirect) and the origin sees nothing', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/live/feed', { websocket: 'echo' });

    const response = await setup.edge.fetch('/live/feed', { headers: WEBSOCKET_HANDSHAKE });

    await expectSessionRequired(response);
    expect(response.webSocket).toBeNull();
    expect(await setup.originRequests()).toEqual([]);
  });

  it('forwards an upgrade to a public path without a session and without identity', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('GET', '/public/ticker', { websocket: 'echo' });

    const response = await setup.edge.fetch('/public/ticker', {
      headers: { ...WEBSOCKET_HANDSHAKE, 'x-kenni-sub': 'spoofed' },
    });

    expect(response.status).toBe(101);
    const socket = response.webSocket!;
    socket.accept();
    expect(await echoOnce(socket, 'ping')).toBe('ping');
    socket.close(1000);
    const [request] = await setup.originRequests();
    expect(identityHeadersOf(request!)).toEqual({});
  });

  it("passes the origin's refusal of an upgrade through as an ordinary answer", async () => {
    const setup = await setUpGateway();
    await signIn(setup);

    // No route scripted: the origin answers the upgrade with 404.
    const response = await setup.edge.fetch('/live/nowhere', { headers: WEBSOCKET_HANDSHAKE });

    expect(response.status).toBe(404);
    expect(response.webSocket).toBeNull();
    expect(await setup.originRequests()).toHaveLength(1);
  });

  it.each([
    ['a foreign Origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
    ['a sibling subdomain', { origin: 'https://evil.edge.test', 'sec-fetch-site': 'same-site' }],
  ])(
    'refuses an upgrade from %s that carries the session cookie (cross-site WebSocket hijacking): 403, not forwarded',
    async (_label, headers) => {
      const setup = await setUpGateway();
      await signIn(setup);
      await setup.routeOrigin('GET', '/live/feed', { websocket: 'echo' });

      const response = await setup.edge.fetch('/live/feed', { headers: { ...WEBSOCKET_HANDSHAKE, ...headers } });

      expect(response.status).toBe(403);
      expect(response.webSocket).toBeNull();
      expect(((await response.json()) as { code: string }).code).toBe('cross_site_request');
      expect(await setup.originRequests()).toEqual([]);
    },
  );
});
