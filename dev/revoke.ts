/**
 * `npm run revoke -- --national-id 0101302989` (or `--sub <sub>`): ends every
 * session of one user at the edge, for an operator. Gets a client-credentials
 * token with `KENNI_ADMIN_SCOPE` (the `npm run token` helper) and calls the
 * edge's `POST /auth/admin/revoke`. The edge is `--edge`, else `EDGE_URL`,
 * else `http://localhost:8787` (`npm run dev`). Prints how many sessions ended;
 * never the token.
 */
import { parseArgs } from 'node:util';
import { getCliToken, loadCliSettings, reportCliError } from './cli-token.ts';

const USAGE = 'usage: npm run revoke -- (--national-id <kennitala> | --sub <sub>) [--edge <url>]';
const DEFAULT_EDGE = 'http://localhost:8787';

/** A usage mistake: said on stderr with the usage line, exit code 2, before any request. */
class UsageError extends Error {}

/** The request body: exactly one of the two; a kennitala may be written with its dash (`010130-2989`). */
function targetOf(values: { 'national-id'?: string | undefined; sub?: string | undefined }): Record<string, string> {
  const nationalId = values['national-id'];
  if ((nationalId === undefined) === (values.sub === undefined))
    throw new UsageError('name exactly one of --national-id and --sub');
  if (values.sub !== undefined) {
    if (values.sub === '') throw new UsageError('--sub must not be empty');
    return { sub: values.sub };
  }
  const digits = nationalId!.replace(/^(\d{6})-(\d{4})$/, '$1$2');
  if (!/^\d{10}$/.test(digits)) throw new UsageError('--national-id must be ten digits (a kennitala)');
  return { national_id: digits };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'national-id': { type: 'string' },
      sub: { type: 'string' },
      edge: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.error(USAGE);
    return;
  }
  const target = targetOf(values);
  const settings = loadCliSettings(['KENNI_ADMIN_SCOPE', 'EDGE_URL']);
  const scope = settings.KENNI_ADMIN_SCOPE;
  if (!scope) throw new UsageError('KENNI_ADMIN_SCOPE is not set (wrangler.toml [vars], .dev.vars or the environment)');
  const edge = new URL('/auth/admin/revoke', values.edge ?? settings.EDGE_URL ?? DEFAULT_EDGE);
  const token = await getCliToken(settings, scope);
  const response = await fetch(edge, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(target),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json().catch(() => ({}))) as {
    revoked?: unknown;
    error?: unknown;
    error_description?: unknown;
  };
  if (response.status !== 200 || typeof body.revoked !== 'number') {
    const detail = typeof body.error === 'string' ? `${body.error}: ${String(body.error_description ?? '')}` : '';
    throw new Error(`the edge answered ${response.status} ${detail}`.trim());
  }
  process.stdout.write(`revoked ${body.revoked} session${body.revoked === 1 ? '' : 's'}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`revoke: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  reportCliError('revoke', error);
});
