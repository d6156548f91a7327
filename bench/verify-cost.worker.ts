/**
 * Benchmark-only worker: verifies the same access token `n` times in one
 * request with the edge's own `verifyAccessToken` (JWKS from the isolate after
 * the first call). The caller times n=0 against n=N from outside, because
 * workerd's clock does not advance during pure CPU work.
 */
import type * as oauth from 'oauth4webapi';
import { parseConfig, type Env } from '../src/config.ts';
import { verifyAccessToken } from '../src/bearer/verify.ts';

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const token = url.searchParams.get('token') ?? '';
    const n = Number(url.searchParams.get('n') ?? '0');
    const config = parseConfig(env);
    const server: oauth.AuthorizationServer = {
      issuer: config.issuer,
      jwks_uri: url.searchParams.get('jwks') ?? '',
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    };
    await verifyAccessToken(config, server, token); // warm: fetch and import the key
    for (let i = 0; i < n; i++) await verifyAccessToken(config, server, token);
    return new Response(String(n));
  },
};
