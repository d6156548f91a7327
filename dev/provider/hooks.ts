/** Hooks the dev provider gives oidc-provider's configuration (claims, policies, scope handling). */
import { accountClaims } from './people.ts';

/**
 * oidc-provider drops `offline_access` from an authorization request unless
 * it carries `prompt=consent` (OIDC Core §11 allows that); Kenni issues a
 * refresh token whenever `offline_access` is requested, so put it back for
 * clients allowed the refresh_token grant.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#OfflineAccess
 */
export async function keepRequestedOfflineAccess(ctx: any, _value: unknown, client: any) {
  const requestedScope = String(ctx.oidc.body?.scope ?? ctx.query?.scope ?? '');
  if (!requestedScope.split(' ').includes('offline_access')) return;
  if (!client?.grantTypeAllowed('refresh_token')) return;
  if (
    !String(ctx.oidc.params.response_type ?? '')
      .split(' ')
      .includes('code')
  )
    return;
  const scopes = new Set(
    String(ctx.oidc.params.scope ?? '')
      .split(' ')
      .filter(Boolean),
  );
  scopes.add('offline_access');
  ctx.oidc.params.scope = [...scopes].join(' ');
}

/** Only the client a token was issued to may revoke it (RFC 7009 §2.1). */
export function revocationAllowedPolicy(_ctx: unknown, client: any, token: any) {
  return token.clientId === client.clientId;
}

/**
 * The claims oidc-provider adds to access tokens (the JWT's payload, the
 * opaque token's introspection answer): `national_id` and `name` as the
 * granted scopes allow, plus `actor` and `delegation_type` on delegated
 * sign-ins. None for client credentials.
 */
export function accessTokenClaims(token: { accountId?: string; scope?: string }) {
  const claims = token.accountId ? accountClaims(token.accountId) : undefined;
  if (!claims) return undefined;
  const scopes = new Set(String(token.scope ?? '').split(' '));
  return {
    ...(scopes.has('national_id') ? { national_id: claims.national_id } : {}),
    ...(scopes.has('profile') ? { name: claims.name } : {}),
    ...(claims.actor ? { actor: claims.actor, delegation_type: claims.delegation_type } : {}),
  };
}

/** Confidential clients may introspect any token; a public client only its own (RFC 7662 §4). */
export function introspectionAllowedPolicy(ctx: any, client: any, token: any) {
  return client.clientAuthMethod !== 'none' || token.clientId === ctx.oidc.client.clientId;
}

/** Whether a URL points at this machine (localhost, 127.0.0.0/8, [::1]). */
export function isLoopbackUrl(url: URL | string): boolean {
  const { hostname } = new URL(url);
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
