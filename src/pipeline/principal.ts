/**
 * The principal: who a request speaks for, the one value the pipeline steps
 * (authenticate → authorize → forward) hand to each other.
 */
import type { Actor } from '../identity/claims.ts';
import type { ActiveSession } from '../session/store.ts';

/**
 * Who a request speaks for, however the edge authenticated it.
 * @example
 * app.get('/whoami', requireSession(), (c) => c.json({ sub: c.var.principal!.subject, auth: c.var.principal!.auth }));
 */
export interface Principal {
  /** `sub` of the session or token (a client-credentials token without `sub`: its `client_id`). */
  readonly subject: string;
  /** Identity claims: the session's (protocol claims removed) or the verified token's. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** How the edge authenticated the request. */
  readonly auth: 'session' | 'bearer';
  /** The token's scopes (bearer), or the session's granted scope (none in a record written before scopes were kept). */
  readonly scopes: readonly string[];
  /** The session, when the cookie authenticated the request. */
  readonly session?: ActiveSession;
  /** On a delegated sign-in: the person acting for the subject (never the subject itself). */
  readonly actor?: Actor;
  /** On a delegated sign-in: Kenni's `delegation_type` (e.g. `c:procurator`). */
  readonly delegationType?: string;
  /** When the person authenticated at the provider (`auth_time`, seconds since the epoch), when known. */
  readonly authTime?: number;
}
