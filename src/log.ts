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
  | 'cache_entry_rejected'
  | 'request_refused'
  | 'access_denied'
  | 'origin_failed'
  | 'm2m_token_issued'
  | 'm2m_token_failed'
  | 'backchannel_logout'
  | 'logout_token_rejected'
  | 'admin_revoked'
  | 'internal_error';

/** The only fields a log line may carry. */
export interface AuthLogFields {
  /** A stable reason code, e.g. an {@link ErrorCode}. */
  reason?: string;
  /** The first 12 hex digits of the session key hash: enough to correlate, useless to hijack. */
  session?: string;
  /** Request path without the query string (runs of six or more digits are masked). */
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
  const masked: AuthLogFields = { ...fields };
  for (const name of MASKED_FIELDS) {
    const value = masked[name];
    if (typeof value === 'string') masked[name] = maskDigitRuns(value);
  }
  console.log(JSON.stringify({ level: levelOf(event), event, ...masked, time: new Date().toISOString() }));
}

/** Fields that can carry request or provider data (a path, a provider's error code); `session` is our own hex and stays. */
const MASKED_FIELDS = ['path', 'detail', 'reason'] as const;

/**
 * Masks every run of six or more digits (a kennitala has ten) as `******`,
 * after reading percent-encoded digits (`%30`–`%39`) as digits, so
 * `/api/people/0101302989` is logged as `/api/people/******`.
 */
export function maskDigitRuns(text: string): string {
  return text.replace(/%3([0-9])/gi, '$1').replace(/[0-9]{6,}/g, '******');
}

function levelOf(event: AuthEvent): 'info' | 'warn' | 'error' {
  if (event === 'internal_error' || event === 'config_invalid') return 'error';
  if (event.endsWith('_failed') || event.endsWith('_rejected') || event === 'request_refused') return 'warn';
  return 'info';
}
