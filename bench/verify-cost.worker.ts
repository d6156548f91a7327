/**
 * Benchmark-only worker: runs the edge's own `verifyAccessToken` in a loop in
 * one request. `POST` a JSON array of distinct tokens to verify each once
 * (the full check: parse, signature, claims), or `GET ?token=…&n=N` to verify
 * one token N times (the remembered-token path). The caller times requests
 * from outside, because workerd's clock does not advance during pure CPU work.
 */
import type * as oauth from 'oauth4webapi';
import { loadConfig, type Env } from '../src/config.ts';
import { verifyAccessToken } from '../src/provider/index.ts';

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    // One configuration (and so one provider, with its key set and remembered tokens) per isolate, as in the Worker.
    const config = loadConfig(env);
    const server: oauth.AuthorizationServer = {
      issuer: config.issuer,
      jwks_uri: url.searchParams.get('jwks') ?? '',
      id_token_signing_alg_values_supported: ['RS256', 'ES256'],
    };
    const warmup = url.searchParams.get('warmup');
    if (warmup) await verifyAccessToken(config, server, warmup); // fetch and import the key outside the timed loop
    if (request.method === 'POST') {
      const tokens = (await request.json()) as string[];
      for (const token of tokens) await verifyAccessToken(config, server, token);
      return new Response(String(tokens.length));
    }
    const token = url.searchParams.get('token') ?? '';
    const n = Number(url.searchParams.get('n') ?? '0');
    for (let i = 0; i < n; i++) await verifyAccessToken(config, server, token);
    return new Response(String(n));
  },
};
