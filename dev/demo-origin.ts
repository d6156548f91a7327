/**
 * A tiny demo origin behind the edge: it shows who is signed in from the
 * identity headers the edge sets (`X-Kenni-Sub`, `X-Kenni-National-Id`,
 * `X-Kenni-Name`, `X-Kenni-Assertion`) and verifies the assertion against the
 * edge's published keys.
 *
 * Run directly: `npx node dev/demo-origin.ts` (127.0.0.1:9401).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { closeOnSignal, escapeHtml, sendHtml, sendJson } from './http.ts';

/** Where `npm run dev` runs the demo origin. */
export const DEMO_ORIGIN_PORT = 9401;

/** Options for {@link startDemoOrigin}. */
export interface DemoOriginOptions {
  /** Port to listen on; 0 picks a free one. Default {@link DEMO_ORIGIN_PORT}. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** The edge's public keys for `X-Kenni-Assertion`: `<edge>/auth/jwks.json`. */
  edgeJwksUrl: string;
  /** When set, the assertion's `iss` must equal it. */
  edgeIssuer?: string;
  /** When set, the assertion's `aud` must contain it. */
  edgeAudience?: string;
}

/** A running demo origin. */
export interface DemoOrigin {
  /** `http://<host>:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What the edge told the origin about the user, as read from the identity headers. */
interface Identity {
  sub?: string;
  national_id?: string;
  name?: string;
  assertion: AssertionCheck;
}

type AssertionCheck =
  | { present: false }
  | { present: true; verified: true; claims: JWTPayload }
  | { present: true; verified: false; error: string };

/** Starts the demo origin. */
export async function startDemoOrigin(options: DemoOriginOptions): Promise<DemoOrigin> {
  const host = options.host ?? '127.0.0.1';
  // jose caches the keys and refetches (with a cooldown) on an unknown kid.
  const edgeKeys = createRemoteJWKSet(new URL(options.edgeJwksUrl));

  const verifyAssertion = async (assertion: string): Promise<AssertionCheck> => {
    try {
      const { payload } = await jwtVerify(assertion, edgeKeys, {
        algorithms: ['ES256'],
        issuer: options.edgeIssuer,
        audience: options.edgeAudience,
      });
      return { present: true, verified: true, claims: payload };
    } catch (error) {
      return { present: true, verified: false, error: describeError(error) };
    }
  };

  const readIdentity = async (req: IncomingMessage): Promise<Identity> => {
    const assertion = header(req, 'x-kenni-assertion');
    return {
      sub: header(req, 'x-kenni-sub'),
      national_id: header(req, 'x-kenni-national-id'),
      name: decodePercentEncoded(header(req, 'x-kenni-name')),
      assertion: assertion ? await verifyAssertion(assertion) : { present: false },
    };
  };

  const server = createServer((req, res) => {
    route(req, res, readIdentity).catch((error: unknown) => {
      console.error('demo origin: unhandled error', error);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEMO_ORIGIN_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  readIdentity: (req: IncomingMessage) => Promise<Identity>,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://origin.invalid');

  if (url.pathname === '/api/echo') {
    const bodyLength = await countBodyBytes(req);
    sendJson(res, 200, {
      method: req.method,
      path: url.pathname,
      query: queryObject(url.searchParams),
      headers: redactedHeaders(req),
      bodyLength,
    });
    return;
  }

  await countBodyBytes(req);

  if (url.pathname === '/api/whoami') {
    const identity = await readIdentity(req);
    sendJson(res, 200, {
      ...identity,
      bearer: /^bearer\s+\S/i.test(header(req, 'authorization') ?? ''),
      identityHeaders: identityHeaders(req),
    });
    return;
  }

  if (url.pathname === '/public/hello') {
    const forwardedIdentity = Object.keys(identityHeaders(req));
    sendHtml(
      res,
      200,
      page(
        'Halló / Hello',
        `<h1>Halló heimur! / Hello, world!</h1>
<p>Opin síða: engin innskráning þarf. / A public page: no sign-in needed.</p>
<p>Auðkennishausar sem bárust / identity headers received: ${
          forwardedIdentity.length ? `<code>${escapeHtml(forwardedIdentity.join(', '))}</code>` : 'engir / none'
        }</p>
<p><a href="/">Forsíða / Home</a></p>`,
      ),
    );
    return;
  }

  if (url.pathname === '/') {
    sendHtml(res, 200, homePage(await readIdentity(req)));
    return;
  }

  if (url.pathname === '/favicon.ico') {
    res.statusCode = 204;
    res.end();
    return;
  }

  sendHtml(res, 404, page('Finnst ekki / Not found', '<h1>Finnst ekki / Not found</h1><p><a href="/">Forsíða / Home</a></p>'));
}

function homePage(identity: Identity): string {
  const signedIn = identity.sub !== undefined;
  const assertion = identity.assertion;
  const assertionLine = !assertion.present
    ? 'no X-Kenni-Assertion header'
    : assertion.verified
      ? 'assertion verified ✓'
      : `assertion NOT verified ✗: ${assertion.error}`;
  const claims = assertion.present && assertion.verified ? assertion.claims : undefined;

  return page(
    'kenni-edge demo',
    `<h1>kenni-edge demo origin</h1>
${
  signedIn
    ? `<p class="hello">Halló, <strong>${escapeHtml(identity.name ?? identity.sub)}</strong>!</p>
<table>
<tr><th>X-Kenni-Sub</th><td><code>${escapeHtml(identity.sub)}</code></td></tr>
<tr><th>X-Kenni-National-Id</th><td><code>${escapeHtml(identity.national_id ?? '—')}</code></td></tr>
<tr><th>X-Kenni-Name</th><td>${escapeHtml(identity.name ?? '—')}</td></tr>
<tr><th>X-Kenni-Assertion</th><td class="${claims ? 'ok' : 'bad'}">${escapeHtml(assertionLine)}</td></tr>
</table>
${claims ? `<details><summary>Assertion claims</summary><pre>${escapeHtml(JSON.stringify(claims, null, 2))}</pre></details>` : ''}`
    : `<p>Enginn innskráður. / Nobody is signed in: no identity headers arrived.
Open this page through the edge (<a href="http://localhost:8787/">http://localhost:8787/</a>), not the origin directly.</p>`
}
<ul>
<li><a href="/auth/me">/auth/me</a>: the edge's view of the session</li>
<li><a href="/api/whoami">/api/whoami</a>: an API route (the session's access token forwarded)</li>
<li><a href="/public/hello">/public/hello</a>: a public page</li>
<li><button type="button" id="refresh">POST /auth/refresh</button> <output id="refresh-result"></output></li>
<li><a href="/auth/logout">/auth/logout</a>: skrá út / sign out</li>
</ul>
<script>
document.getElementById('refresh').addEventListener('click', async () => {
  const response = await fetch('/auth/refresh', { method: 'POST' });
  document.getElementById('refresh-result').textContent = response.status + ' ' + (await response.text());
});
</script>`,
  );
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="is">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
th{text-align:left;padding-right:1rem}td,th{padding:.2rem .4rem}.ok{color:#106b21}.bad{color:#b00020}
code,pre{background:#f2f2f5;padding:0 .2rem}li{margin:.3rem 0}</style>
</head>
<body>
${body}
</body>
</html>`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `X-Kenni-Name` arrives UTF-8 percent-encoded so Icelandic letters survive HTTP headers. */
function decodePercentEncoded(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function identityHeaders(req: IncomingMessage): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-kenni-') && value !== undefined) found[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return found;
}

/** Every request header, except that a credential in `Authorization` is never echoed. */
function redactedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    headers[name] = name === 'authorization' ? `${text.split(/\s+/)[0] ?? ''} [redacted]` : text;
  }
  return headers;
}

function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    query[name] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return query;
}

async function countBodyBytes(req: IncomingMessage): Promise<number> {
  let length = 0;
  for await (const chunk of req) length += (chunk as Buffer).length;
  return length;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}




async function main() {
  const edgeJwksUrl = process.env.EDGE_JWKS_URL ?? 'http://127.0.0.1:8787/auth/jwks.json';
  const origin = await startDemoOrigin({ port: DEMO_ORIGIN_PORT, edgeJwksUrl });
  console.log(`Demo origin on ${origin.url} (edge keys from ${edgeJwksUrl})`);
  closeOnSignal(origin);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
