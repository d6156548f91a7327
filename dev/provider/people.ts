/**
 * The dev provider's people: test users who sign in, the parties they may
 * act for (Kenni delegations) and the claims each sign-in yields. Pure
 * TypeScript (no Node APIs), so workerd tests can import it too.
 */

/** A test user of the dev provider. */
export interface DevUser {
  /** Stable subject identifier. */
  sub: string;
  /** Icelandic kennitala, ten digits, what the login form takes. */
  national_id: string;
  name: string;
  given_name: string;
  family_name: string;
}

/** A party a user may act for: a company or another person. */
export interface DevParty {
  /** Stable subject of the party when represented; never a user's own `sub`. */
  sub: string;
  /** The party's kennitala (a company's day digits are 41–71). */
  national_id: string;
  name: string;
  kind: 'company' | 'person';
}

/** Which of the dev delegations: {@link DEV_DELEGATIONS} has one of each kind. */
export type DevDelegationKey = 'company' | 'person';

/** One user's right to act for one party, as Kenni's delegation picker offers it. */
export interface DevDelegation {
  key: DevDelegationKey;
  /** The `sub` of the user who may act. */
  actorSub: string;
  party: DevParty;
  /** Kenni's `delegation_type` claim for this delegation. */
  delegation_type: string;
}

/** The test users; sign in with any of their `national_id`s (no password). All kennitalas are valid. */
export const DEV_USERS: readonly DevUser[] = [
  {
    sub: 'dev-user-thordur',
    national_id: '0101302989',
    name: 'Þórður Ævarsson',
    given_name: 'Þórður',
    family_name: 'Ævarsson',
  },
  {
    sub: 'dev-user-gudrun',
    national_id: '1203894599',
    name: 'Guðrún Ólafsdóttir',
    given_name: 'Guðrún',
    family_name: 'Ólafsdóttir',
  },
  {
    // The minor (born 2012, century digit 0), for age checks such as Kenni's `min_age`.
    sub: 'dev-user-soley',
    national_id: '1406122510',
    name: 'Sóley Guðrúnardóttir',
    given_name: 'Sóley',
    family_name: 'Guðrúnardóttir',
  },
];

/** Þórður's company, founded 15 May 1998 (day digits 15 + 40 = 55). */
const AEVARSSON_EHF: DevParty = {
  sub: 'dev-party-aevarsson-ehf',
  national_id: '5505984269',
  name: 'Ævarsson ehf.',
  kind: 'company',
};

/** Þórður's sister, in his care. */
const ASTA: DevParty = {
  sub: 'dev-party-asta',
  national_id: '2208353169',
  name: 'Ásta Ævarsdóttir',
  kind: 'person',
};

/** The delegations: Þórður may act for his company (procurator) and for his sister (care); nobody else has any. */
export const DEV_DELEGATIONS: readonly DevDelegation[] = [
  { key: 'company', actorSub: 'dev-user-thordur', party: AEVARSSON_EHF, delegation_type: 'c:procurator' },
  { key: 'person', actorSub: 'dev-user-thordur', party: ASTA, delegation_type: '@dev-team.is:care' },
];

/** The delegations a user may choose from. */
export function delegationsOf(userSub: string): DevDelegation[] {
  return DEV_DELEGATIONS.filter((delegation) => delegation.actorSub === userSub);
}

/** Kenni's `actor` claim: the person acting on a delegated sign-in. */
export interface DevActorClaim {
  national_id: string;
  name: string;
  sub: string;
}

/** The claims an account id (a user's or a represented party's `sub`) yields, or `undefined` when unknown. */
export interface DevAccountClaims {
  sub: string;
  national_id: string;
  name: string;
  given_name?: string;
  family_name?: string;
  /** Only on delegated sign-ins. */
  actor?: DevActorClaim;
  /** Only on delegated sign-ins. */
  delegation_type?: string;
}

/**
 * The claims for an account id: a user's own, or (for a represented party's
 * `sub`) the party as subject with `actor` and `delegation_type`, as Kenni
 * puts them.
 */
export function accountClaims(accountId: string): DevAccountClaims | undefined {
  const user = DEV_USERS.find((candidate) => candidate.sub === accountId);
  if (user) return { ...user };
  const delegation = DEV_DELEGATIONS.find((candidate) => candidate.party.sub === accountId);
  const actor = delegation && DEV_USERS.find((candidate) => candidate.sub === delegation.actorSub);
  if (!delegation || !actor) return undefined;
  return {
    sub: delegation.party.sub,
    national_id: delegation.party.national_id,
    name: delegation.party.name,
    actor: { national_id: actor.national_id, name: actor.name, sub: actor.sub },
    delegation_type: delegation.delegation_type,
  };
}

/** Whether an account id is a represented party's (a delegated sign-in), not a user's own. */
export function isDelegatedAccount(accountId: string | undefined): boolean {
  return DEV_DELEGATIONS.some((delegation) => delegation.party.sub === accountId);
}

/** One line per delegation for banners: who acts for whom, the party's kennitala and the delegation type. */
export function describeDelegations(): string[] {
  return DEV_DELEGATIONS.map((delegation) => {
    const actor = DEV_USERS.find((user) => user.sub === delegation.actorSub)?.name ?? delegation.actorSub;
    return `${actor} → ${delegation.party.name} (${delegation.party.national_id}, ${delegation.delegation_type})`;
  });
}
