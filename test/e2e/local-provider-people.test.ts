/**
 * The dev provider's people (dev/provider/people.ts): every test kennitala is
 * a valid one, as Kenni's always are; the company's day digits are 41–71; one
 * user is a minor; and the provider's pages list them all.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { isValidKennitala, kennitalaCheckDigit, parseKennitala } from '../../dev/kennitala.ts';
import { DEV_DELEGATIONS, DEV_USERS } from '../../dev/provider/people.ts';
import type { Env } from '../../src/config.ts';

const ISSUER = String((env as unknown as Env).KENNI_ISSUER);

/** Age in whole years on `on` of someone born on `birthdate` (`YYYY-MM-DD`). */
function ageOn(birthdate: string, on: string): number {
  const [by, bm, bd] = birthdate.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

describe('isValidKennitala', () => {
  it('accepts kennitalas with the right mod-11 check digit, date and century', () => {
    // 120174-3399 and 310896-2099: widely published valid examples; 601010-0890 a company.
    expect(isValidKennitala('1201743399')).toBe(true);
    expect(isValidKennitala('3108962099')).toBe(true);
    expect(isValidKennitala('6010100890')).toBe(true);
    expect(parseKennitala('6010100890')).toEqual({ kind: 'company', date: '2010-10-20' });
    expect(parseKennitala('1406122510')).toEqual({ kind: 'person', date: '2012-06-14' });
  });

  it('rejects a wrong check digit, such as the dev provider once used for Guðrún (1203894569)', () => {
    expect(kennitalaCheckDigit('12038945')).toBe(9);
    expect(isValidKennitala('1203894569')).toBe(false);
    expect(isValidKennitala('1201743389')).toBe(false);
  });

  it('rejects impossible dates, unknown centuries, wrong lengths and non-digits', () => {
    // Each has a correct check digit, so only the named part is wrong.
    const withCheck = (firstEight: string, century: string) => {
      const check = kennitalaCheckDigit(firstEight);
      expect(check).toBeTypeOf('number');
      return `${firstEight}${check}${century}`;
    };
    expect(isValidKennitala(withCheck('30029020', '9'))).toBe(false); // 30 February
    expect(isValidKennitala(withCheck('01139021', '9'))).toBe(false); // month 13
    expect(isValidKennitala(withCheck('72019020', '9'))).toBe(false); // company day 32
    expect(isValidKennitala(withCheck('01019020', '7'))).toBe(false); // century 7
    expect(isValidKennitala(withCheck('01019020', '9'))).toBe(true); // the same, valid
    expect(isValidKennitala('010130298')).toBe(false);
    expect(isValidKennitala('010130-2989')).toBe(false);
  });

  it('knows no check digit when the remainder is 1 (such serials are never issued)', () => {
    expect(kennitalaCheckDigit('15061225')).toBeUndefined();
  });
});

describe('the dev provider’s test data', () => {
  it('gives every user and every represented party a valid kennitala', () => {
    const all = [
      ...DEV_USERS.map((user) => user.national_id),
      ...DEV_DELEGATIONS.map((delegation) => delegation.party.national_id),
    ];
    expect(all.length).toBeGreaterThanOrEqual(5);
    for (const nationalId of all)
      expect({ nationalId, valid: isValidKennitala(nationalId) }).toEqual({ nationalId, valid: true });
    expect(new Set(all).size).toBe(all.length);
  });

  it('has a company party (day digits 41–71, c:procurator) and a person party (@dev-team.is:care), both Þórður’s', () => {
    const company = DEV_DELEGATIONS.find((delegation) => delegation.key === 'company')!;
    const person = DEV_DELEGATIONS.find((delegation) => delegation.key === 'person')!;
    expect(company).toMatchObject({
      actorSub: 'dev-user-thordur',
      delegation_type: 'c:procurator',
      party: { name: 'Ævarsson ehf.', kind: 'company' },
    });
    expect(Number(company.party.national_id.slice(0, 2))).toBeGreaterThanOrEqual(41);
    expect(Number(company.party.national_id.slice(0, 2))).toBeLessThanOrEqual(71);
    expect(parseKennitala(company.party.national_id)?.kind).toBe('company');
    expect(person).toMatchObject({
      actorSub: 'dev-user-thordur',
      delegation_type: '@dev-team.is:care',
      party: { kind: 'person' },
    });
    expect(parseKennitala(person.party.national_id)?.kind).toBe('person');
    for (const delegation of DEV_DELEGATIONS) {
      expect(DEV_USERS.map((user) => user.sub)).not.toContain(delegation.party.sub);
    }
  });

  it('has a minor born in 2012 (century digit 0) among the users', () => {
    const minors = DEV_USERS.filter((user) => ageOn(parseKennitala(user.national_id)!.date, '2026-12-01') < 18);
    expect(minors.map((user) => user.national_id)).toEqual(['1406122510']);
    expect(minors[0]!.national_id.at(-1)).toBe('0');
  });

  it('lists every user and delegation on the provider’s home page', async () => {
    const home = await (await fetch(new URL('/', ISSUER))).text();
    for (const user of DEV_USERS) expect(home).toContain(user.national_id);
    for (const delegation of DEV_DELEGATIONS) expect(home).toContain(delegation.party.national_id);
  });
});
