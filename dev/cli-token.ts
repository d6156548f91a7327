/**
 * The client-credentials helper of the command-line tools (`npm run token`,
 * `npm run revoke`): settings from wrangler.toml `[vars]`, then `.dev.vars`,
 * then the environment, and a token from the configured provider (the local
 * one of `npm run dev` by default) with the edge's own provider code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Env } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import { createProvider } from '../src/provider/index.ts';
import { DEV_CLIENTS } from './provider.ts';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Settings the environment may override (besides those a tool names). */
const ENV_OVERRIDES = ['KENNI_ISSUER', 'KENNI_M2M_CLIENT_ID', 'KENNI_M2M_CLIENT_SECRET', 'PROVIDER_TIMEOUT'];

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

/** The settings a tool runs with: wrangler.toml `[vars]`, `.dev.vars`, then the environment (for `extra` names too). */
export function loadCliSettings(extra: readonly string[] = []): Record<string, string | undefined> {
  const devVarsFile = join(PROJECT_DIR, '.dev.vars');
  const settings: Record<string, string | undefined> = {
    ...readWranglerVars(readFileSync(join(PROJECT_DIR, 'wrangler.toml'), 'utf8')),
    ...(existsSync(devVarsFile) ? readDotenv(readFileSync(devVarsFile, 'utf8')) : {}),
  };
  for (const name of [...ENV_OVERRIDES, ...extra]) {
    if (process.env[name]) settings[name] = process.env[name];
  }
  // Without .dev.vars, the local provider's m2m client is the default.
  settings.KENNI_M2M_CLIENT_ID ??= DEV_CLIENTS.m2m.client_id;
  settings.KENNI_M2M_CLIENT_SECRET ??= DEV_CLIENTS.m2m.client_secret;
  // The CLI seals nothing; the edge's own SESSION_SECRET check does not apply to it.
  settings.SESSION_SECRET ??= 'cli-does-not-seal-anything-0123456789';
  return settings;
}

/**
 * A client-credentials access token for `scope` from the provider `settings` name.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export async function getCliToken(
  settings: Record<string, string | undefined>,
  scope: string | undefined,
): Promise<string> {
  const config = parseConfig(settings as unknown as Env, { requireBindings: false });
  const token = await createProvider(config).clientCredentials(
    { clientId: config.m2mClientId!, clientSecret: config.m2mClientSecret! },
    scope,
  );
  return token.access_token;
}

/** Prints a tool's failure on stderr (the reason says more to a developer than the end-user message) and sets exit code 1. */
export function reportCliError(tool: string, error: unknown): void {
  const message =
    error instanceof AppError
      ? `${error.code} (${error.reason}): ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  console.error(`${tool}: ${message}`);
  if (error instanceof AppError && error.code === 'provider_unreachable')
    console.error('Is the provider running? Start it with `npm run dev`.');
  process.exitCode = 1;
}
