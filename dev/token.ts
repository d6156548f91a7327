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
import { parseArgs } from 'node:util';
import { getCliToken, loadCliSettings, reportCliError } from './cli-token.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { scope: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.error('usage: npm run -s token -- --scope "<scope> [<scope> …]"');
    return;
  }
  process.stdout.write(`${await getCliToken(loadCliSettings(), values.scope)}\n`);
}

main().catch((error: unknown) => reportCliError('token', error));
