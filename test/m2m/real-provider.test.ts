/**
 * Client credentials end to end (issue #5): a token from the real local
 * provider's M2M client (`@dev-team.is/m2m`, whose secret needs form-encoding)
 * passes the edge's own bearer verification.
 */
import { env } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { getClientCredentialsToken, type Env } from '../../src/index.ts';
import { createTestEdge } from '../support/edge.ts';

const bindings = env as unknown as Env;

describe('client credentials against the real local provider', () => {
  it('gets a token for @dev-team.is/api.read that GET /auth/verify accepts (200), and serves the next call from the cache', async () => {
    const token = await getClientCredentialsToken(bindings, { scope: '@dev-team.is/api.read' });

    expect(token.token_type.toLowerCase()).toBe('bearer');
    expect(token.expires_at).toBeGreaterThan(Date.now() / 1000 + 60);
    expect(decodeJwt(token.access_token)).toMatchObject({
      iss: bindings.KENNI_ISSUER,
      client_id: '@dev-team.is/m2m',
      aud: '@dev-team.is/web-api',
    });

    const edge = createTestEdge();
    const verified = await edge.fetch('/auth/verify', {
      headers: { authorization: `Bearer ${token.access_token}` },
      jar: false,
    });
    expect(verified.status, await verified.clone().text()).toBe(200);
    expect(((await verified.json()) as { claims: Record<string, unknown> }).claims).toMatchObject({
      client_id: '@dev-team.is/m2m',
    });

    const again = await getClientCredentialsToken(bindings, { scope: '@dev-team.is/api.read' });
    expect(again.access_token).toBe(token.access_token);
  });

  it('gets a token that lacks a scope it was not granted: /auth/verify?scope=… answers 403 insufficient_scope', async () => {
    const token = await getClientCredentialsToken(bindings, { scope: '@dev-team.is/api.read' });
    const edge = createTestEdge();

    const response = await edge.fetch(`/auth/verify?${new URLSearchParams({ scope: '@dev-team.is/api.write' })}`, {
      headers: { authorization: `Bearer ${token.access_token}` },
      jar: false,
    });

    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });
});
