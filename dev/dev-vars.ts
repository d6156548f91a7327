/**
 * Writes the local secrets file that `wrangler dev` reads (`.dev.vars` next to
 * wrangler.toml, or any file given to `--env-file`), so a fresh clone runs with
 * no configuration. Values match the dev provider (dev/provider.ts); keys are
 * generated per clone.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

import { DEV_CLIENTS } from './provider.ts';

/** The file wrangler reads local secrets from by default (listed in .gitignore). */
export const DEV_VARS_FILE = '.dev.vars';

/** Creates a fresh set of local secrets: client credentials of the dev provider, new random keys. */
export async function createDevVars(): Promise<Record<string, string>> {
  return {
    KENNI_CLIENT_SECRET: DEV_CLIENTS.web.client_secret,
    SESSION_SECRET: randomBytes(36).toString('base64url'), // 48 characters
    EDGE_SIGNING_KEY: JSON.stringify(await createEdgeSigningKey()),
    KENNI_M2M_CLIENT_ID: DEV_CLIENTS.m2m.client_id,
    KENNI_M2M_CLIENT_SECRET: DEV_CLIENTS.m2m.client_secret,
  };
}

/**
 * A new ES256 private JWK for `EDGE_SIGNING_KEY`, its `kid` the key's
 * thumbprint.
 * @see https://www.rfc-editor.org/rfc/rfc7638
 */
export async function createEdgeSigningKey(): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  return { ...jwk, kid, alg: 'ES256' };
}

/**
 * Quotes a value for wrangler's dotenv parser. dotenv strips one pair of
 * surrounding quotes and unescapes nothing but `\n`/`\r` inside double
 * quotes, so backslash escaping would corrupt a value; single quotes keep
 * every character (JSON's double quotes, `#`, `%`, `+`, `=`) literally.
 * A `$` is refused: a file given to `wrangler dev --env-file` also goes
 * through dotenv-expand, which replaces `$NAME` even inside single quotes.
 */
export function quoteDotenvValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error('.dev.vars values cannot span lines');
  if (value.includes('$')) throw new Error('.dev.vars values cannot contain "$" (wrangler --env-file expands $NAME)');
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('`')) return `\`${value}\``;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error('value contains every dotenv quote character and cannot be written to .dev.vars');
}

/** Renders `KEY='value'` lines under a short header. */
export function formatDotenv(vars: Record<string, string>): string {
  const header = [
    '# Local secrets for `wrangler dev`, written by `npm run dev` (dev/run.ts).',
    '# Matches the local Kenni-like provider (dev/provider.ts). Never commit this file.',
  ];
  const lines = Object.entries(vars).map(([name, value]) => `${name}=${quoteDotenvValue(value)}`);
  return `${[...header, ...lines].join('\n')}\n`;
}

/** What {@link ensureDevVars} found or did. */
export interface DevVarsStatus {
  path: string;
  /** True when the file did not exist and was written now. */
  created: boolean;
  /** Variables an existing file lacks (it is left as it is). */
  missing: string[];
}

/**
 * Writes the secrets file at `path` (any name: `<project>/.dev.vars`, or the
 * file `DEV_VARS_PATH` names, which wrangler then reads with `--env-file`)
 * if it is missing; an existing file is never changed.
 */
export async function ensureDevVars(path: string): Promise<DevVarsStatus> {
  const vars = await createDevVars();
  if (!existsSync(path)) {
    // 'wx': never overwrite, even if the file appeared since the check.
    writeFileSync(path, formatDotenv(vars), { mode: 0o600, flag: 'wx' });
    return { path, created: true, missing: [] };
  }
  const defined = new Set(
    [...readFileSync(path, 'utf8').matchAll(/^\s*(?:export\s+)?([\w.-]+)\s*=/gm)].map((match) => match[1]),
  );
  return { path, created: false, missing: Object.keys(vars).filter((name) => !defined.has(name)) };
}
