/**
 * Structured auth logs: one JSON line per event with a stable reason code.
 * Only the fields listed in {@link AuthLogFields} can be logged, so a token,
 * secret, code, national id or cookie cannot slip into a log line.
 */

/** The auth events the edge logs. */
export type AuthEvent =
  | 'config_invalid'
  | 'login_started'
  | 'login_succeeded'
  | 'login_failed'
  | 'refreshed'
  | 'refresh_failed'
  | 'logged_out'
  | 'token_revoked'
  | 'revocation_failed'
  | 'session_ended'
  | 'bearer_rejected'
  | 'request_refused'
  | 'origin_failed'
  | 'm2m_token_issued'
  | 'm2m_token_failed'
  | 'internal_error';

/** The only fields a log line may carry. */
export interface AuthLogFields {
  /** A stable reason code, e.g. an {@link ErrorCode}. */
  reason?: string;
  /** The first 12 hex digits of the session key hash: enough to correlate, useless to hijack. */
  session?: string;
  /** Request path without the query string. */
  path?: string;
  method?: string;
  status?: number;
  /** Counts, durations and similar numbers. */
  [metric: `n_${string}`]: number;
  /** Free text that never contains request data (e.g. a setting name). */
  detail?: string;
}

/**
 * Writes one JSON log line for an auth event.
 * @see ../README.md#logs
 */
export function logEvent(event: AuthEvent, fields: AuthLogFields = {}): void {
  console.log(JSON.stringify({ level: levelOf(event), event, ...fields, time: new Date().toISOString() }));
}

function levelOf(event: AuthEvent): 'info' | 'warn' | 'error' {
  if (event === 'internal_error' || event === 'config_invalid') return 'error';
  if (event.endsWith('_failed') || event.endsWith('_rejected') || event === 'request_refused') return 'warn';
  return 'info';
}
