/** The shapes of a session: the record KV stores and the session a request loaded. */

/**
 * One session, as every reader sees it. KV holds it without `claims` (see
 * `record-storage.ts`): the identity claims are sealed with the tokens in `tokens`.
 */
export interface SessionRecord {
  /** 2: identity claims sealed with the tokens (1, claims in clear, is only read). */
  version: 2;
  sub: string;
  /** Identity claims from the ID token (protocol claims removed); in KV only inside `tokens`. */
  claims: Record<string, unknown>;
  /** The provider's tokens and `claims`, sealed together with AES-GCM (bound to this record's key). */
  tokens: string;
  /** When the access token expires, seconds since the epoch. */
  access_token_expires_at: number;
  /**
   * The scope granted to the session's access token (space-separated): the
   * token response's `scope`, else the scope asked for (RFC 6749 §5.1); kept
   * current at refresh. Absent in older records: a `scope` rule then fails closed.
   */
  scope?: string;
  created_at: number;
  /** Absolute end of the session (SESSION_TTL after login). */
  expires_at: number;
  /** The idle clock: moved at most once an hour. */
  last_seen_at: number;
  refreshed_at?: number;
  /** The ID token's `auth_time`: when the person authenticated (for step-up). Absent in older records. */
  auth_time?: number;
  /** The ID token's `acr` (authentication context class). */
  acr?: string;
  /** The ID token's `amr` (authentication methods). */
  amr?: string[];
  /** The ID token's `sid` (the provider's session, for logout). */
  sid?: string;
  /** A short description of the browser that logged in ("Firefox on Linux"), for the session list. */
  user_agent?: string;
}

/** The protocol claims a session keeps beside the identity: never sent as identity headers. */
export type SessionProtocolClaims = Pick<SessionRecord, 'auth_time' | 'acr' | 'amr' | 'sid'>;

/** A session loaded for a request. */
export interface ActiveSession {
  /** The raw id from the cookie (never logged, never stored). */
  readonly id: string;
  /** `hex sha256(id)`: the KV key suffix. */
  readonly keyHash: string;
  record: SessionRecord;
}

/** A session to end: its key hash and record; the raw id only when the request holding its cookie ends it. */
export type EndingSession = Pick<ActiveSession, 'keyHash' | 'record'> & { readonly id?: string };
