/**
 * `npm run revoke -- --national-id …` (dev/revoke.ts): gets a client-credentials
 * token with the admin scope from a real local provider (started here, free
 * port) and calls `POST /auth/admin/revoke` on a stub edge (free port), which
 * verifies the token against the provider's keys as the edge would and
 * records what it received.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DEV_ADMIN_SCOPE,
  DEV_API_AUDIENCE,
  DEV_CLIENTS,
  startKenniProvider,
  type KenniProvider,
} from '../../dev/provider.ts';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Received {
  method: string;
  path: string;
  contentType: string;
  body: unknown;
  scopes: string[];
}

/** Runs `node dev/revoke.ts …args` with `env` on top of this process's environment. */
function runRevokeCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      ['dev/revoke.ts', ...args],
      { cwd: PROJECT_DIR, env: { ...process.env, ...providerEnv, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}

let provider: KenniProvider;
let providerEnv: Record<string, string>;
let edge: { url: string; received: Received[]; answer: { status: number; json: unknown }; close(): Promise<void> };

/** A stub edge: verifies the bearer token (issuer, audience, signature) and answers `edge.answer`. */
async function startStubEdge(issuer: string): Promise<typeof edge> {
  const keys = createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`));
  const state = {
    received: [] as Received[],
    answer: { status: 200, json: { revoked: 2 } as unknown },
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const { payload } = await jwtVerify(token, keys, { issuer, audience: DEV_API_AUDIENCE });
    state.received.push({
      method: req.method ?? '',
      path: req.url ?? '',
      contentType: req.headers['content-type'] ?? '',
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      scopes: String(payload.scope).split(' '),
    });
    res.statusCode = state.answer.status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(state.answer.json));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 401;
      res.end('{"error":"invalid_token"}');
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  });
}

beforeAll(async () => {
  provider = await startKenniProvider({ port: 0 });
  edge = await startStubEdge(provider.issuer);
  // Explicit settings, so a developer's .dev.vars cannot change what is tested.
  providerEnv = {
    KENNI_ISSUER: provider.issuer,
    KENNI_M2M_CLIENT_ID: DEV_CLIENTS.m2m.client_id,
    KENNI_M2M_CLIENT_SECRET: DEV_CLIENTS.m2m.client_secret,
    KENNI_ADMIN_SCOPE: DEV_ADMIN_SCOPE,
    EDGE_URL: edge.url,
  };
});

afterEach(() => {
  edge.received.length = 0;
  edge.answer = { status: 200, json: { revoked: 2 } };
});

afterAll(async () => {
  await Promise.allSettled([edge?.close(), provider?.close()]);
});

describe('npm run revoke', () => {
  it('--national-id: POSTs {"national_id"} with an admin-scoped token and prints the count', async () => {
    const run = await runRevokeCli(['--national-id', '0101302989']);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('revoked 2 sessions\n');
    expect(edge.received).toHaveLength(1);
    expect(edge.received[0]).toMatchObject({
      method: 'POST',
      path: '/auth/admin/revoke',
      contentType: 'application/json',
      body: { national_id: '0101302989' },
    });
    expect(edge.received[0]!.scopes).toContain(DEV_ADMIN_SCOPE);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/eyJ/);
  });

  it('--sub, a kennitala written with its dash, and --edge over EDGE_URL', async () => {
    edge.answer = { status: 200, json: { revoked: 1 } };
    const bySub = await runRevokeCli(['--sub', 'dev-user-thordur', '--edge', edge.url], {
      EDGE_URL: 'http://127.0.0.1:1',
    });
    expect(bySub.code, bySub.stderr).toBe(0);
    expect(bySub.stdout).toBe('revoked 1 session\n');
    const dashed = await runRevokeCli(['--national-id', '010130-2989']);
    expect(dashed.code, dashed.stderr).toBe(0);
    expect(edge.received.map((received) => received.body)).toEqual([
      { sub: 'dev-user-thordur' },
      { national_id: '0101302989' },
    ]);
  });

  it.for([
    ['both --sub and --national-id', ['--sub', 'a', '--national-id', '0101302989']],
    ['neither', []],
    ['a national id of nine digits', ['--national-id', '010130298']],
    ['a national id with letters', ['--national-id', '01013O2989']],
  ])('refuses %s with exit code 2 and the usage, before any request', async ([, args]) => {
    const run = await runRevokeCli(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('usage: npm run revoke --');
    expect(edge.received).toEqual([]);
  });

  it('exits 1 with the edge’s error on stderr when the edge refuses (403 insufficient_scope)', async () => {
    edge.answer = {
      status: 403,
      json: { error: 'insufficient_scope', error_description: 'The token lacks a required scope (named in scope).' },
    };
    const run = await runRevokeCli(['--sub', 'dev-user-thordur']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'revoke: the edge answered 403 insufficient_scope: The token lacks a required scope (named in scope).\n',
    );
  });
});
