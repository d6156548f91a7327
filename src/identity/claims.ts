/**
 * Who a set of claims (an ID token, a session's claims, a verified access
 * token) speaks for. On a Kenni delegation (`prompt=delegation`) `sub`,
 * `national_id` and `name` are the represented party, the subject; the person
 * acting is the `actor` object beside it, with `delegation_type`. The subject
 * is always the represented party, the actor never takes its place, and a
 * malformed `actor` or `delegation_type` is refused whole, never half-used.
 *
 * Rules (the contract in the README, "Delegations"):
 * - `actor`, when present, is a plain object whose `sub`, `national_id` and
 *   `name` are strings when present; `national_id` is exactly ten ASCII digits
 *   (a kennitala: it reaches origins as an audit identity, so nothing else
 *   passes); it names the actor by `sub` or `national_id`. Other members are ignored.
 * - `delegation_type`, when present, is a non-empty string; it is kept only
 *   beside an actor (a non-delegated sign-in has no delegation to type).
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-4.1
 */
import { kennitalaKind, type KennitalaKind } from './kennitala.ts';

/** The represented party: who the request is for. */
export interface Subject {
  readonly sub: string;
  readonly national_id?: string;
  readonly name?: string;
  /** From the kennitala's day digits; absent when there is no kennitala or it tells nothing. */
  readonly kind?: KennitalaKind;
}

/** The person acting for the subject on a delegated sign-in (Kenni's `actor` claim). */
export interface Actor {
  readonly sub?: string;
  readonly national_id?: string;
  readonly name?: string;
}

/** The identity read from claims: the subject, and on a delegated sign-in the actor and the delegation's type. */
export interface Identity {
  readonly subject: Subject;
  readonly actor?: Actor;
  readonly delegation_type?: string;
}

/** Thrown by {@link readIdentity} for a malformed `actor` or `delegation_type`; `reason` is a stable log value. */
export class IdentityClaimsError extends Error {
  readonly reason: 'actor_malformed' | 'delegation_type_malformed';

  constructor(reason: IdentityClaimsError['reason'], message: string) {
    super(message);
    this.name = 'IdentityClaimsError';
    this.reason = reason;
  }
}

const KENNITALA = /^[0-9]{10}$/;

/**
 * Reads the identity of `claims` with `sub` as the subject's id (the caller
 * decides it: a client-credentials token falls back to its `client_id`).
 * Throws {@link IdentityClaimsError} when `actor` or `delegation_type` is malformed.
 */
export function readIdentity(claims: Readonly<Record<string, unknown>>, sub: string): Identity {
  const subject: Subject = {
    sub,
    ...(typeof claims.national_id === 'string' ? { national_id: claims.national_id } : {}),
    ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
  };
  const kind = kennitalaKind(subject.national_id);
  const actor = readActor(claims.actor);
  const delegationType = readDelegationType(claims.delegation_type);
  return {
    subject: kind ? { ...subject, kind } : subject,
    ...(actor ? { actor } : {}),
    ...(actor && delegationType !== undefined ? { delegation_type: delegationType } : {}),
  };
}

function readActor(value: unknown): Actor | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new IdentityClaimsError('actor_malformed', 'The actor claim is not an object.');
  const { sub, national_id, name } = value as Record<string, unknown>;
  for (const [member, text] of Object.entries({ sub, national_id, name })) {
    if (text !== undefined && (typeof text !== 'string' || text === ''))
      throw new IdentityClaimsError('actor_malformed', `The actor's ${member} is not a non-empty string.`);
  }
  if (typeof national_id === 'string' && !KENNITALA.test(national_id))
    throw new IdentityClaimsError('actor_malformed', "The actor's national_id is not a kennitala (ten digits).");
  if (sub === undefined && national_id === undefined)
    throw new IdentityClaimsError('actor_malformed', 'The actor claim names no one (neither sub nor national_id).');
  return {
    ...(sub !== undefined ? { sub: sub as string } : {}),
    ...(national_id !== undefined ? { national_id: national_id as string } : {}),
    ...(name !== undefined ? { name: name as string } : {}),
  };
}

function readDelegationType(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new IdentityClaimsError('delegation_type_malformed', 'The delegation_type claim is not a non-empty string.');
  return value;
}
