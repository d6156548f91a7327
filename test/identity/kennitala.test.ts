/** `kennitalaKind`: person or company from the day digits of exactly ten ASCII digits, nothing else. */
import { describe, expect, it } from 'vitest';
import { birthDate, isAtLeastYearsOld, kennitalaKind } from '../../src/identity/kennitala.ts';

describe('kennitalaKind', () => {
  it.each([
    ['0101302989', 'person'],
    ['3112992999', 'person'],
    ['1203894599', 'person'],
    ['4101302980', 'company'],
    ['7112992990', 'company'],
    ['5501692829', 'company'],
  ] as const)('%s is a %s', (value, kind) => {
    expect(kennitalaKind(value)).toBe(kind);
  });

  it.each([
    ['day 00', '0001302989'],
    ['day 32', '3201302989'],
    ['day 40', '4001302989'],
    ['day 72', '7201302989'],
    ['day 99', '9901302989'],
    ['nine digits', '010130298'],
    ['eleven digits', '01013029890'],
    ['a dash', '010130-2989'],
    ['spaces', ' 0101302989'],
    ['a trailing newline', '0101302989\n'],
    ['Arabic-Indic digits', '٠١٠١٣٠٢٩٨٩'],
    ['full-width digits', '０１０１３０２９８９'],
    ['empty', ''],
  ])('%s is no kind', (_label, value) => {
    expect(kennitalaKind(value)).toBeUndefined();
  });

  it.each([[101302989], [null], [undefined], [['0101302989']], [{}]])('a non-string (%j) is no kind', (value) => {
    expect(kennitalaKind(value)).toBeUndefined();
  });
});

describe('birthDate', () => {
  it.each([
    ['0101302989', { year: 1930, month: 1, day: 1 }],
    ['3112992999', { year: 1999, month: 12, day: 31 }],
    ['2902082990', { year: 2008, month: 2, day: 29 }],
    ['1503751238', { year: 1875, month: 3, day: 15 }],
  ] as const)('%s was born on %j (century from the last digit)', (value, date) => {
    expect(birthDate(value)).toEqual(date);
  });

  it.each([
    ['a company', '5501692829'],
    ['31 February', '3102992999'],
    ['29 February outside a leap year', '2902992999'],
    ['month 00', '0100992999'],
    ['month 13', '0113992999'],
    ['century digit 1', '0101302981'],
    ['century digit 7', '0101302987'],
    ['a trailing space', '0101302989 '],
    ['a dash', '010130-2989'],
  ])('%s has no birth date', (_label, value) => {
    expect(birthDate(value)).toBeUndefined();
  });

  it.each([[101302989], [['0101302989']], [null]])('a non-string (%j) has no birth date', (value) => {
    expect(birthDate(value)).toBeUndefined();
  });
});

describe('isAtLeastYearsOld', () => {
  const on = (iso: string) => new Date(`${iso}T12:00:00Z`);
  // Born 15 March 2008.
  const TEEN = '1503082990';

  it('is false the day before the birthday, true on it and after it', () => {
    expect(isAtLeastYearsOld(TEEN, 18, on('2026-03-14'))).toBe(false);
    expect(isAtLeastYearsOld(TEEN, 18, on('2026-03-15'))).toBe(true);
    expect(isAtLeastYearsOld(TEEN, 18, on('2026-03-16'))).toBe(true);
    expect(isAtLeastYearsOld(TEEN, 18, new Date('2026-03-15T00:00:00Z'))).toBe(true);
    expect(isAtLeastYearsOld(TEEN, 18, new Date('2026-03-14T23:59:59Z'))).toBe(false);
  });

  it('someone born on 29 February turns N on 1 March in a year without it, on 29 February in a leap year', () => {
    const LEAPLING = '2902082990';
    expect(isAtLeastYearsOld(LEAPLING, 18, on('2026-02-28'))).toBe(false);
    expect(isAtLeastYearsOld(LEAPLING, 18, on('2026-03-01'))).toBe(true);
    expect(isAtLeastYearsOld(LEAPLING, 20, on('2028-02-28'))).toBe(false);
    expect(isAtLeastYearsOld(LEAPLING, 20, on('2028-02-29'))).toBe(true);
  });

  it('reads the century: 1930 (9), 2030 would not be born yet (0), 1875 (8)', () => {
    expect(isAtLeastYearsOld('0101302989', 96, on('2026-12-01'))).toBe(true);
    expect(isAtLeastYearsOld('0101302989', 97, on('2026-12-01'))).toBe(false);
    expect(isAtLeastYearsOld('0101302980', 0, on('2026-12-01'))).toBe(false);
    expect(isAtLeastYearsOld('1503751238', 150, on('2026-03-15'))).toBe(true);
    expect(isAtLeastYearsOld('1503751238', 152, on('2026-03-15'))).toBe(false);
  });

  it.each([
    ['a company', '5501692829'],
    ['a trailing space', '0101302989 '],
    ['a dash', '010130-2989'],
    ['a number', 101302989],
    ['an array', ['0101302989']],
    ['31 February', '3102992999'],
  ])('%s never holds, even for 0 years', (_label, value) => {
    expect(isAtLeastYearsOld(value, 0, on('2026-12-01'))).toBe(false);
    expect(isAtLeastYearsOld(value, 18, on('2026-12-01'))).toBe(false);
  });

  it('a negative or fractional number of years never holds', () => {
    expect(isAtLeastYearsOld('0101302989', -1, on('2026-12-01'))).toBe(false);
    expect(isAtLeastYearsOld('0101302989', 17.5, on('2026-12-01'))).toBe(false);
  });
});
