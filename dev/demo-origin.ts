/**
 * A tiny demo origin behind the edge, and the example to copy: it trusts an
 * identity only from `X-Kenni-Assertion`, verified against the edge's
 * published keys with ES256, `iss` exactly the edge's origin, `aud` exactly
 * its own origin, and `sub`, `iat` and `exp` present. The plain identity
 * headers (`X-Kenni-Sub`, `X-Kenni-National-Id`, `X-Kenni-Name`) are shown
 * but never trusted on their own: anyone who reaches the origin directly can
 * send them. Its areas `/admin/`, `/adults/` and `/company/` (demo-areas.ts)
 * are guarded by the example `ROUTES` in wrangler.toml.
 *
 * Run directly: `npx node dev/demo-origin.ts` (127.0.0.1:9401; `EDGE_JWKS_URL`,
 * `EDGE_ISSUER` (comma-separated) and `ORIGIN_AUDIENCE` override the defaults).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { kennitalaKind } from '../src/identity/kennitala.ts';
import { demoAreaBody, demoAreaFor, demoAreaLinks } from './demo-areas.ts';
import { sessionsPanel } from './demo-sessions.ts';
import { closeOnSignal, escapeHtml, htmlPage, sendHtml, sendJson } from './http.ts';

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
  /**
   * The edge's origin(s): the assertion's `iss` must equal one exactly.
   * Default: the origin of `edgeJwksUrl`, and on loopback also its
   * `localhost` / `127.0.0.1` twin (a browser may use either name).
   */
  edgeIssuer?: string | string[];
  /** This origin as the edge names it (`ORIGIN_URL`'s origin): the assertion's `aud`. Default: the origin it listens on. */
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
  /** On a delegated sign-in: the person acting for the subject (the assertion's `act`). */
  actor?: { sub?: string; national_id?: string; name?: string };
  delegation_type?: string;
  assertion: AssertionCheck;
}

type AssertionCheck =
  | { present: false }
  | { present: true; verified: true; claims: JWTPayload }
  | { present: true; verified: false; error: string };

/** Claims every assertion must carry (the edge also sets `name`, `national_id`, `auth`, `scope` when it has them). */
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'iat', 'exp'];

/** Starts the demo origin. */
export async function startDemoOrigin(options: DemoOriginOptions): Promise<DemoOrigin> {
  const host = options.host ?? '127.0.0.1';
  // jose caches the keys and refetches (with a cooldown) on an unknown kid.
  const edgeKeys = createRemoteJWKSet(new URL(options.edgeJwksUrl));
  const issuers = options.edgeIssuer ?? loopbackTwins(new URL(options.edgeJwksUrl).origin);
  let audience = options.edgeAudience; // Known once listening, when defaulted.

  const verifyAssertion = async (assertion: string): Promise<AssertionCheck> => {
    try {
      // Exact issuer and audience: an assertion the edge signed for another origin must not work here.
      const { payload } = await jwtVerify(assertion, edgeKeys, {
        algorithms: ['ES256'],
        typ: 'JWT',
        issuer: issuers,
        audience: audience!,
        requiredClaims: REQUIRED_CLAIMS,
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('the assertion names no subject');
      return { present: true, verified: true, claims: payload };
    } catch (error) {
      return { present: true, verified: false, error: describeError(error) };
    }
  };

  const readIdentity = async (req: IncomingMessage): Promise<Identity> => {
    const raw = header(req, 'x-kenni-assertion');
    const assertion: AssertionCheck = raw ? await verifyAssertion(raw) : { present: false };
    if (!assertion.present || !assertion.verified) return { assertion };
    // The identity comes from the verified claims only, never from the plain headers.
    const { sub, national_id: nationalId, name, act, delegation_type: delegationType } = assertion.claims;
    return {
      sub: sub!,
      ...(typeof nationalId === 'string' ? { national_id: nationalId } : {}),
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof act === 'object' && act !== null ? { actor: act as Identity['actor'] } : {}),
      ...(typeof delegationType === 'string' ? { delegation_type: delegationType } : {}),
      assertion,
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
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  audience ??= url;
  return {
    url,
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
    const body = {
      ...identity,
      bearer: /^bearer\s+\S/i.test(header(req, 'authorization') ?? ''),
      identityHeaders: identityHeaders(req),
    };
    // Refuse without a verified assertion: the plain identity headers prove nothing.
    if (identity.sub === undefined) {
      sendJson(res, 401, { error: identity.assertion.present ? 'assertion_invalid' : 'assertion_missing', ...body });
      return;
    }
    sendJson(res, 200, body);
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

  const area = demoAreaFor(url.pathname);
  if (area) {
    const identity = await readIdentity(req);
    const who =
      identity.sub !== undefined ? greeting(identity) : '<p class="bad">Enginn innskráður / nobody is signed in.</p>';
    sendHtml(res, 200, page(area.title, demoAreaBody(area, who)));
    return;
  }

  if (url.pathname === '/favicon.ico') {
    res.statusCode = 204;
    res.end();
    return;
  }

  sendHtml(
    res,
    404,
    page('Finnst ekki / Not found', '<h1>Finnst ekki / Not found</h1><p><a href="/">Forsíða / Home</a></p>'),
  );
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
    ? `${greeting(identity)}
<table>
<tr><th>X-Kenni-Sub</th><td><code>${escapeHtml(identity.sub)}</code></td></tr>
<tr><th>X-Kenni-National-Id</th><td><code>${escapeHtml(identity.national_id ?? '—')}</code></td></tr>
<tr><th>X-Kenni-Name</th><td>${escapeHtml(identity.name ?? '—')}</td></tr>
<tr><th>X-Kenni-Assertion</th><td class="${claims ? 'ok' : 'bad'}">${escapeHtml(assertionLine)}</td></tr>
</table>
${claims ? `<details><summary>Assertion claims</summary><pre>${escapeHtml(JSON.stringify(claims, null, 2))}</pre></details>` : ''}`
    : `<p>Enginn innskráður. / Nobody is signed in: ${
        assertion.present ? `<span class="bad">${escapeHtml(assertionLine)}</span>` : 'no X-Kenni-Assertion arrived'
      }.
Open this page through the edge (<a href="http://localhost:8787/">http://localhost:8787/</a>), not the origin directly.</p>`
}
<ul>
<li><a href="/auth/login?prompt=delegation&amp;return_to=/">Skipta um umboð / switch delegation</a>: sign in again and pick whom to act for</li>
<li><a href="/auth/me">/auth/me</a>: the edge's view of the session</li>
<li><a href="/api/whoami">/api/whoami</a>: an API route (the session's access token forwarded)</li>
<li><a href="/public/hello">/public/hello</a>: a public page</li>
${demoAreaLinks()}
<li><button type="button" id="refresh">POST /auth/refresh</button> <output id="refresh-result"></output></li>
<li><a href="/auth/logout">/auth/logout</a>: skrá út / sign out</li>
</ul>
${signedIn ? sessionsPanel() : ''}
<script>
document.getElementById('refresh').addEventListener('click', async () => {
  const response = await fetch('/auth/refresh', { method: 'POST' });
  document.getElementById('refresh-result').textContent = response.status + ' ' + (await response.text());
});
</script>`,
  );
}

/**
 * "Halló, <name>!", or on a delegated sign-in "Halló, <actor>, acting for
 * <subject> (company|person)": the subject is whom the request is for, the
 * actor who is doing it.
 */
function greeting(identity: Identity): string {
  const subjectName = escapeHtml(identity.name ?? identity.sub ?? '');
  if (!identity.actor) return `<p class="hello">Halló, <strong>${subjectName}</strong>!</p>`;
  const actorName = escapeHtml(identity.actor.name ?? identity.actor.national_id ?? identity.actor.sub ?? '');
  const kind = kennitalaKind(identity.national_id);
  const kindText = kind === 'company' ? ' (fyrirtæki / company)' : kind === 'person' ? ' (einstaklingur / person)' : '';
  return `<p class="hello">Halló, <strong>${actorName}</strong>, í umboði fyrir / acting for <strong class="subject">${subjectName}</strong>${kindText}${
    identity.delegation_type ? ` <code>${escapeHtml(identity.delegation_type)}</code>` : ''
  }</p>`;
}

const PAGE_STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
th{text-align:left;padding-right:1rem}td,th{padding:.2rem .4rem}.ok{color:#106b21}.bad{color:#b00020}
code,pre{background:#f2f2f5;padding:0 .2rem}li{margin:.3rem 0}`;

function page(title: string, body: string): string {
  return htmlPage(title, PAGE_STYLE, body);
}

/** `origin`, and on loopback also its `localhost` / `127.0.0.1` twin: both name the same local edge. */
function loopbackTwins(origin: string): string[] {
  const url = new URL(origin);
  const twin = url.hostname === '127.0.0.1' ? 'localhost' : url.hostname === 'localhost' ? '127.0.0.1' : undefined;
  if (!twin) return [origin];
  url.hostname = twin;
  return [origin, url.origin];
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function identityHeaders(req: IncomingMessage): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-kenni-') && value !== undefined)
      found[name] = Array.isArray(value) ? value.join(', ') : value;
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
  const edgeIssuer = process.env.EDGE_ISSUER
    ? process.env.EDGE_ISSUER.split(',').map((value) => value.trim())
    : undefined;
  const origin = await startDemoOrigin({
    port: DEMO_ORIGIN_PORT,
    edgeJwksUrl,
    edgeIssuer,
    edgeAudience: process.env.ORIGIN_AUDIENCE || undefined,
  });
  console.log(`Demo origin on ${origin.url} (edge keys from ${edgeJwksUrl})`);
  closeOnSignal(origin);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main();
}
