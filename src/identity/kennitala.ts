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
