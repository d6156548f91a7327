/**
 * The Icelandic national id (kennitala): ten digits, DDMMYY then four more.
 * A company's kennitala has 40 added to the day, so the first two digits say
 * whether the number belongs to a person (01–31) or a company (41–71). Pure
 * functions only: the access rules build birth dates and ages on this module.
 * @see https://www.skra.is/english/people/my-registration/kennitala/
 */

/** Whom a kennitala belongs to. */
export type KennitalaKind = 'person' | 'company';

/**
 * `person` (day digits 01–31) or `company` (41–71) for exactly ten ASCII
 * digits; `undefined` for anything else (no guessing on malformed input).
 */
export function kennitalaKind(value: unknown): KennitalaKind | undefined {
  if (typeof value !== 'string' || !/^[0-9]{10}$/.test(value)) return undefined;
  const day = Number(value.slice(0, 2));
  if (day >= 1 && day <= 31) return 'person';
  if (day >= 41 && day <= 71) return 'company';
  return undefined;
}

/** A calendar date (no time zone: birth dates are days). */
export interface CalendarDate {
  readonly year: number;
  /** 1–12. */
  readonly month: number;
  /** 1–31. */
  readonly day: number;
}

const CENTURY_BY_DIGIT: Readonly<Record<string, number>> = Object.freeze({ '8': 1800, '9': 1900, '0': 2000 });

/**
 * The birth date of a person's kennitala: `DDMMYY`, the century from the last
 * digit (9 → 19xx, 0 → 20xx, 8 → 18xx). `undefined` for a company, a
 * malformed value, another century digit or a date that does not exist
 * (31.02, 29.02 outside a leap year).
 */
export function birthDate(kennitala: unknown): CalendarDate | undefined {
  if (kennitalaKind(kennitala) !== 'person') return undefined;
  const value = kennitala as string;
  const century = CENTURY_BY_DIGIT[value[9]!];
  if (century === undefined) return undefined;
  const day = Number(value.slice(0, 2));
  const month = Number(value.slice(2, 4));
  const year = century + Number(value.slice(4, 6));
  if (month < 1 || month > 12 || day > daysInMonth(year, month)) return undefined;
  return Object.freeze({ year, month, day });
}

/**
 * True when the person with this kennitala is at least `years` old on `today`
 * (read in UTC). The birthday itself counts. Someone born on 29 February turns
 * N on 1 March in a year without 29 February (a deliberate choice: the
 * full N years have then certainly passed, so an age rule never admits a day
 * early). Companies, malformed values and a non-whole or negative `years`
 * never hold.
 */
export function isAtLeastYearsOld(kennitala: unknown, years: number, today: Date): boolean {
  if (!Number.isSafeInteger(years) || years < 0 || Number.isNaN(today.getTime())) return false;
  const born = birthDate(kennitala);
  if (!born) return false;
  const year = today.getUTCFullYear();
  const month = today.getUTCMonth() + 1;
  const day = today.getUTCDate();
  const age = year - born.year - (month < born.month || (month === born.month && day < born.day) ? 1 : 0);
  return age >= years;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
