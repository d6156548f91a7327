/**
 * The local secrets file (dev/dev-vars.ts) and `DEV_VARS_PATH` (dev/run.ts):
 * any file name works, because wrangler reads a file given to `--env-file`
 * whatever it is called (it looks for `.dev.vars` only next to wrangler.toml).
 * The stack test starts `npm run dev` on free ports with the secrets in a
 * temporary file named `kenni-secrets.env` and checks that the worker uses
 * that file's EDGE_SIGNING_KEY, and that the demo origin accepts an assertion
 * only with the edge's issuer and its own audience. No browser.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureDevVars, quoteDotenvValue } from '../../dev/dev-vars.ts';
import {
  freePorts,
  PROJECT_DIR,
  startProcessGroup,
  stopProcessGroup,
  waitForOk,
  type ProcessGroup,
} from '../../dev/processes.ts';

const DEVELOPER_DEV_VARS = join(PROJECT_DIR, '.dev.vars');
const VARIABLES = [
  'KENNI_CLIENT_SECRET',
  'SESSION_SECRET',
  'EDGE_SIGNING_KEY',
  'KENNI_M2M_CLIENT_ID',
  'KENNI_M2M_CLIENT_SECRET',
];

/** `KEY='value'` lines as wrangler's dotenv reads them (one pair of quotes stripped). */
function readDotenv(path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const match of readFileSync(path, 'utf8').matchAll(/^([A-Z0-9_]+)=(['"`])(.*)\2$/gm))
    vars[match[1]!] = match[3]!;
  return vars;
}

function fingerprint(path: string): string | undefined {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : undefined;
}

describe('ensureDevVars', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kenni-edge-dev-vars-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a file of any name, owner-only, with every secret, and never overwrites it', async () => {
    const path = join(dir, 'kenni-secrets.env');

    const first = await ensureDevVars(path);

    expect(first).toEqual({ path, created: true, missing: [] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const vars = readDotenv(path);
    expect(Object.keys(vars).sort()).toEqual([...VARIABLES].sort());
    expect((JSON.parse(vars.EDGE_SIGNING_KEY!) as JWK).kty).toBe('EC');
    const before = fingerprint(path);
    expect(await ensureDevVars(path)).toEqual({ path, created: false, missing: [] });
    expect(fingerprint(path)).toBe(before);
  });

  it('names what an existing file lacks and leaves it as it is', async () => {
    const path = join(dir, 'partial');
    writeFileSync(path, "SESSION_SECRET='x'\n");

    expect(await ensureDevVars(path)).toEqual({
      path,
      created: false,
      missing: VARIABLES.filter((name) => name !== 'SESSION_SECRET'),
    });
    expect(readFileSync(path, 'utf8')).toBe("SESSION_SECRET='x'\n");
  });

  it('refuses a value with "$", which wrangler --env-file would expand', () => {
    expect(() => quoteDotenvValue('a$HOME')).toThrow(/\$/);
    expect(quoteDotenvValue('m2m:s3cret+%/x=')).toBe("'m2m:s3cret+%/x='");
  });
});

describe('npm run dev with DEV_VARS_PATH naming any file', () => {
  let stack: ProcessGroup | undefined;
  let dir: string;
  let secretsPath: string;
  let ports: { provider: number; origin: number; edge: number };
  const developerDevVars = fingerprint(DEVELOPER_DEV_VARS);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kenni-edge-dev-vars-path-'));
    secretsPath = join(dir, 'kenni-secrets.env');
    const [provider, origin, edge] = await freePorts(3);
    ports = { provider: provider!, origin: origin!, edge: edge! };
    // Its own process group, so afterAll stops exactly what it started.
    stack = startProcessGroup('npm', ['run', 'dev'], {
      cwd: PROJECT_DIR,
      env: {
        ...process.env,
        PROVIDER_PORT: String(provider),
        ORIGIN_PORT: String(origin),
        EDGE_PORT: String(edge),
        DEV_VARS_PATH: secretsPath,
        WRANGLER_SEND_METRICS: 'false',
        NO_COLOR: '1',
      },
    });
    await waitForOk(`http://127.0.0.1:${edge}/auth/jwks.json`, 90_000, stack);
  });

  afterAll(async () => {
    if (stack) await stopProcessGroup(stack);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes that file and the worker reads its secrets from it (its EDGE_SIGNING_KEY signs)', async () => {
    expect(existsSync(secretsPath)).toBe(true);
    const key = JSON.parse(readDotenv(secretsPath).EDGE_SIGNING_KEY!) as JWK;

    const jwks = (await (await fetch(`http://127.0.0.1:${ports.edge}/auth/jwks.json`)).json()) as { keys: JWK[] };

    expect(jwks.keys.map((published) => [published.kid, published.x, published.y])).toEqual([[key.kid, key.x, key.y]]);
    expect(stack!.output()).toContain('kenni-secrets.env');
    expect(fingerprint(DEVELOPER_DEV_VARS)).toBe(developerDevVars);
  });

  it("runs the demo origin so that it takes the edge's assertion (iss the edge as the browser names it, aud its own origin) and refuses others", async () => {
    const key = JSON.parse(readDotenv(secretsPath).EDGE_SIGNING_KEY!) as JWK;
    const signingKey = await importJWK(key, 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const assertion = (iss: string, aud: string) =>
      new SignJWT({ name: 'Þórður Ævarsson' })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid! })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject('dev-user-thordur')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(signingKey);
    const whoami = async (token: string) =>
      (await fetch(`http://127.0.0.1:${ports.origin}/api/whoami`, { headers: { 'x-kenni-assertion': token } })).status;
    const ownOrigin = `http://127.0.0.1:${ports.origin}`;

    expect(await whoami(await assertion(`http://localhost:${ports.edge}`, ownOrigin))).toBe(200);
    expect(await whoami(await assertion(`http://127.0.0.1:${ports.edge}`, ownOrigin))).toBe(200);
    expect(await whoami(await assertion('http://evil.localhost:8787', ownOrigin))).toBe(401);
    expect(await whoami(await assertion(`http://localhost:${ports.edge}`, 'http://127.0.0.1:1'))).toBe(401);
  });
});
