/**
 * Stands in for the edge's `/auth/backchannel-logout` at the real local
 * provider during the workers tests: the worker under test has no port the
 * provider could POST to, so the provider's `backchannelLogoutUri` points here,
 * this server keeps every `logout_token` it receives (and answers 200 as the
 * edge would), and tests fetch them to hand them to the edge themselves.
 *
 * - `POST /auth/backchannel-logout` (form): records `logout_token`.
 * - `GET /logout-tokens`: `{ "tokens": [...] }`, every token received, oldest first.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running capture server. */
export interface BackchannelCapture {
  /** Base URL, e.g. `http://127.0.0.1:51234`. */
  url: string;
  /** What to register as the web client's `backchannel_logout_uri`. */
  logoutUri: string;
  close(): Promise<void>;
}

/** Largest body read (a logout token is a few KB). */
const MAX_BODY = 65_536;

/** Starts the capture server on 127.0.0.1, a free port. */
export async function startBackchannelCapture(): Promise<BackchannelCapture> {
  const tokens: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://capture.invalid').pathname;
    if (req.method === 'GET' && path === '/logout-tokens') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ tokens }));
      return;
    }
    if (req.method === 'POST' && path === '/auth/backchannel-logout') {
      readBody(req).then(
        (body) => {
          const token = new URLSearchParams(body).get('logout_token');
          if (token) tokens.push(token);
          res.setHeader('cache-control', 'no-store');
          res.statusCode = token ? 200 : 400;
          res.end();
        },
        () => res.destroy(),
      );
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    logoutUri: `${url}/auth/backchannel-logout`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
