/** `kennitalaKind`: person or company from the day digits of exactly ten ASCII digits, nothing else. */
import { describe, expect, it } from 'vitest';
import { kennitalaKind } from '../../src/identity/kennitala.ts';

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
