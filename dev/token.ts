/**
 * `npm run token -- --scope <scope>`: prints a client-credentials access token
 * from the configured provider (the local one of `npm run dev` by default),
 * so that this works against `npm run dev`:
 *
 *   curl -H "Authorization: Bearer $(npm run -s token -- --scope @dev-team.is/api.read)" http://localhost:8787/api/whoami
 *
 * Settings come from wrangler.toml `[vars]`, then `.dev.vars`, then the
 * environment (KENNI_ISSUER, KENNI_M2M_CLIENT_ID, KENNI_M2M_CLIENT_SECRET).
 * Only the token goes to stdout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig, type Env } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import { createProvider } from '../src/provider/index.ts';
import { DEV_CLIENTS } from './provider.ts';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Reads `KEY = "value"` lines of the `[vars]` table of wrangler.toml. */
export function readWranglerVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('[')) inVars = trimmed === '[vars]';
    const match = inVars && /^([A-Z0-9_]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(trimmed);
    if (match) vars[match[1]!] = JSON.parse(`"${match[2]!}"`) as string;
  }
  return vars;
}

/** Reads a dotenv file as wrangler does for `.dev.vars` (quotes stripped, no interpolation). */
export function readDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trim().startsWith('#')) continue;
    let value = match[2]!;
    const quote = value[0];
    if ((quote === "'" || quote === '"' || quote === '`') && value.endsWith(quote) && value.length >= 2)
      value = value.slice(1, -1);
    vars[match[1]!] = value;
  }
  return vars;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scope: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.error('usage: npm run -s token -- --scope "<scope> [<scope> …]"');
    return;
  }
  const wranglerToml = join(PROJECT_DIR, 'wrangler.toml');
  const devVarsFile = join(PROJECT_DIR, '.dev.vars');
  const settings: Record<string, string | undefined> = {
    ...readWranglerVars(readFileSync(wranglerToml, 'utf8')),
    ...(existsSync(devVarsFile) ? readDotenv(readFileSync(devVarsFile, 'utf8')) : {}),
  };
  for (const name of ['KENNI_ISSUER', 'KENNI_M2M_CLIENT_ID', 'KENNI_M2M_CLIENT_SECRET', 'PROVIDER_TIMEOUT']) {
    if (process.env[name]) settings[name] = process.env[name];
  }
  // Without .dev.vars, the local provider's m2m client is the default.
  settings.KENNI_M2M_CLIENT_ID ??= DEV_CLIENTS.m2m.client_id;
  settings.KENNI_M2M_CLIENT_SECRET ??= DEV_CLIENTS.m2m.client_secret;
  // The CLI seals nothing; the edge's own SESSION_SECRET check does not apply to it.
  settings.SESSION_SECRET ??= 'cli-does-not-seal-anything-0123456789';

  const config = parseConfig(settings as unknown as Env, { requireBindings: false });
  const token = await createProvider(config).clientCredentials(
    { clientId: config.m2mClientId!, clientSecret: config.m2mClientSecret! },
    values.scope,
  );
  process.stdout.write(`${token.access_token}\n`);
}

main().catch((error: unknown) => {
  // The reason (e.g. token_endpoint_invalid_scope) says more to a developer than the end-user message.
  const message =
    error instanceof AppError
      ? `${error.code} (${error.reason}): ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  console.error(`token: ${message}`);
  if (error instanceof AppError && error.code === 'provider_unreachable')
    console.error('Is the provider running? Start it with `npm run dev`.');
  process.exitCode = 1;
});
