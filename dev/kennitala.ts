/**
 * Icelandic kennitala checks for the dev provider's test data and the tests
 * (never used by the Worker). Pure TypeScript, so workerd tests can import it.
 *
 * A kennitala is `DDMMYYRRCT`: day (plus 40 for companies), month, two-digit
 * year, a serial `RR`, the check digit `C` and the century `T` (9 → 19xx,
 * 0 → 20xx, 8 → 18xx). `C` is 11 − (Σ weightᵢ·digitᵢ mod 11) over the first
 * eight digits with weights 3 2 7 6 5 4 3 2; 11 becomes 0, 10 is impossible.
 */

const WEIGHTS = [3, 2, 7, 6, 5, 4, 3, 2] as const;
const CENTURIES: Readonly<Record<string, number>> = { '8': 1800, '9': 1900, '0': 2000 };

/** What a valid kennitala says about its holder. */
export interface KennitalaInfo {
  /** `company` when the day digits are 41–71, else `person`. */
  kind: 'person' | 'company';
  /** Birth date (or founding date of a company), `YYYY-MM-DD`. */
  date: string;
}

/** The mod-11 check digit for the first eight digits, or `undefined` when none exists (remainder 1). */
export function kennitalaCheckDigit(firstEight: string): number | undefined {
  if (!/^\d{8}$/.test(firstEight)) return undefined;
  const sum = WEIGHTS.reduce((total, weight, index) => total + weight * Number(firstEight[index]), 0);
  const check = 11 - (sum % 11);
  if (check === 10) return undefined;
  return check === 11 ? 0 : check;
}

/** Parses a ten-digit kennitala (no dash); `undefined` unless date, century and check digit are all valid. */
export function parseKennitala(value: string): KennitalaInfo | undefined {
  if (!/^\d{10}$/.test(value)) return undefined;
  const century = CENTURIES[value[9]!];
  if (century === undefined) return undefined;
  if (kennitalaCheckDigit(value.slice(0, 8)) !== Number(value[8])) return undefined;

  let day = Number(value.slice(0, 2));
  const kind = day > 40 ? 'company' : 'person';
  if (kind === 'company') day -= 40;
  const month = Number(value.slice(2, 4));
  const year = century + Number(value.slice(4, 6));
  const date = new Date(Date.UTC(year, month - 1, day));
  if (day < 1 || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  return { kind, date: date.toISOString().slice(0, 10) };
}

/** Whether `value` is a valid kennitala: ten digits, a real date, a known century and the right mod-11 check digit. */
export function isValidKennitala(value: string): boolean {
  return parseKennitala(value) !== undefined;
}
