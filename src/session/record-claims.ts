/**
 * Which ID token claims a session record keeps, and where: identity claims in
 * `claims` (what the identity headers are made of), `auth_time`, `acr`, `amr`
 * and `sid` as fields of their own (for step-up and logout, never sent as
 * identity), and nothing else of the protocol.
 */
import { readIdentity } from '../identity/claims.ts';
import type { SessionProtocolClaims, SessionRecord } from './session-types.ts';

/** Protocol claims: never among the identity claims (`auth_time`, `acr`, `amr`, `sid` are record fields of their own). */
const PROTOCOL_CLAIMS = new Set([
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'nonce',
  'azp',
  'at_hash',
  'c_hash',
  's_hash',
  'jti',
  'sid',
  'auth_time',
  'acr',
  'amr',
]);

/**
 * The ID token's `auth_time`, `acr`, `amr` and `sid`, each kept only when well
 * formed: step-up and logout read them from the record, never from the identity claims.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
export function protocolClaims(claims: Record<string, unknown>): SessionProtocolClaims {
  const { auth_time, acr, amr, sid } = claims;
  return {
    ...(typeof auth_time === 'number' && Number.isFinite(auth_time) ? { auth_time } : {}),
    ...(typeof acr === 'string' ? { acr } : {}),
    ...(Array.isArray(amr) && amr.every((value) => typeof value === 'string') ? { amr: amr as string[] } : {}),
    ...(typeof sid === 'string' ? { sid } : {}),
  };
}

/** Keeps the identity claims of a validated ID token. */
export function identityClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => !PROTOCOL_CLAIMS.has(name)));
}

/**
 * What a refresh's new ID token changes in the record: its identity claims
 * replace the old ones (a claim it no longer carries, e.g. an ended
 * delegation's `actor`, is gone: access rules follow the provider's current
 * word), and its protocol claims update theirs. An identity the edge would
 * refuse at login (a malformed `actor`) is not taken: the record keeps what was checked.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse
 */
export function refreshedClaims(record: SessionRecord, claims: Record<string, unknown>): Partial<SessionRecord> {
  const replaced = identityClaims(claims);
  try {
    readIdentity(replaced, record.sub);
  } catch {
    return {};
  }
  return { claims: replaced, ...protocolClaims(claims) };
}
