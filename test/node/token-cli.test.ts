/**
 * `npm run token -- --scope <scope>` (dev/token.ts, issue #5): prints only a
 * client-credentials access token on stdout, so `$(npm run -s token …)` works
 * in a shell; failures go to stderr with exit code 1. Runs the script with
 * this Node (the project's own, Node 22) against a provider started here.
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CLIENTS, startKenniProvider, type KenniProvider } from '../../dev/provider.ts';
import { startScriptedProviderServer, type ScriptedProviderServer } from '../support/scripted-provider-server.ts';

const PROJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dev/token.ts …args` with `env` on top of this process's environment. */
function runTokenCli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      ['dev/token.ts', ...args],
      { cwd: PROJECT_DIR, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
  });
}

let provider: KenniProvider;
let providerEnv: Record<string, string>;
let scripted: ScriptedProviderServer;

beforeAll(async () => {
  provider = await startKenniProvider({ port: 0 });
  scripted = await startScriptedProviderServer();
  // Explicit credentials, so a developer's .dev.vars cannot change what is tested.
  providerEnv = {
    KENNI_ISSUER: provider.issuer,
    KENNI_M2M_CLIENT_ID: DEV_CLIENTS.m2m.client_id,
    KENNI_M2M_CLIENT_SECRET: DEV_CLIENTS.m2m.client_secret,
  };
});

afterAll(async () => {
  await Promise.allSettled([provider?.close(), scripted?.close()]);
});

/**
 * An issuer on the scripted provider whose token endpoint refuses every scope
 * with `invalid_scope`, as Kenni does for a scope the client was not given.
 * (The local dev provider accepts unknown scopes and issues an opaque token.)
 */
async function scopeRefusingIssuer(): Promise<string> {
  const tenant = 'scope-refusing.is';
  const issuer = `${scripted.url}/${tenant}`;
  const response = await fetch(`${scripted.url}/__control/${tenant}/routes`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      [`GET /${tenant}/.well-known/openid-configuration`]: {
        json: {
          issuer,
          authorization_endpoint: `${issuer}/oidc/auth`,
          token_endpoint: `${issuer}/oidc/token`,
          jwks_uri: `${issuer}/oidc/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
        },
      },
      [`POST /${tenant}/oidc/token`]: {
        status: 400,
        headers: { 'cache-control': 'no-store' },
        json: { error: 'invalid_scope', error_description: 'requested scope is not allowed' },
      },
    }),
  });
  expect(response.status).toBe(200);
  return issuer;
}

describe('npm run token', () => {
  it('prints only a JWT access token for the scope on stdout and exits 0', async () => {
    const run = await runTokenCli(['--scope', '@dev-team.is/api.read'], providerEnv);

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const claims = decodeJwt(run.stdout.trim());
    expect(claims).toMatchObject({ iss: provider.issuer, client_id: '@dev-team.is/m2m', aud: '@dev-team.is/web-api' });
    expect(String(claims.scope).split(' ')).toContain('@dev-team.is/api.read');
  });

  it('exits 1 with a message on stderr and nothing on stdout when the provider refuses the scope (invalid_scope)', async () => {
    const run = await runTokenCli(['--scope', '@dev-team.is/no-such-scope'], {
      ...providerEnv,
      KENNI_ISSUER: await scopeRefusingIssuer(),
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^token: provider_misconfigured \(token_endpoint_invalid_scope\): \S/);
  });

  it('exits 1 with a message on stderr and nothing on stdout when the provider is down', async () => {
    const down = await startKenniProvider({ port: 0 });
    await down.close();

    const run = await runTokenCli(['--scope', '@dev-team.is/api.read'], {
      ...providerEnv,
      KENNI_ISSUER: down.issuer,
      PROVIDER_TIMEOUT: '5',
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('token: provider_unreachable');
    expect(run.stderr).toContain('npm run dev');
  });
});
