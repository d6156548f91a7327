/**
 * Which language a page speaks (issue 13, item 6): `Accept-Language` with
 * q-values (RFC 9110 §12.5.4), `q=0` as "not acceptable", malformed input
 * skipped and never thrown on; then `KENNI_UI_LOCALES`; then English.
 */
import { describe, expect, it } from 'vitest';
import { chooseLocale, configuredLocale } from '../../src/pages/locale.ts';

const request = (acceptLanguage?: string) =>
  new Request(
    'https://edge.test/',
    acceptLanguage === undefined ? {} : { headers: { 'accept-language': acceptLanguage } },
  );
const choose = (acceptLanguage: string | undefined, uiLocales?: string) =>
  chooseLocale(request(acceptLanguage), { uiLocales });

describe('chooseLocale: Accept-Language', () => {
  it.each([
    ['is', 'is'],
    ['en', 'en'],
    ['is-IS', 'is'],
    ['en-GB', 'en'],
    ['IS', 'is'],
    ['EN-us', 'en'],
    ['is-IS,is;q=0.9,en;q=0.8', 'is'],
    ['en-GB,en;q=0.9,is;q=0.8', 'en'],
    // q-values decide, not the order in the header.
    ['en;q=0.5, is;q=0.8', 'is'],
    ['is;q=0.3,en;q=0.7', 'en'],
    ['da, en;q=0.3, is;q=0.2', 'en'],
    ['de-DE, de;q=0.9, is;q=0.1', 'is'],
    // Equal q: the one named first.
    ['en, is', 'en'],
    ['is, en', 'is'],
    ['is;q=0.5, en;q=0.500', 'is'],
    // A regional range counts for its language; the best one wins.
    ['en-US;q=0.2, is-IS;q=0.4, en-GB;q=0.9', 'en'],
    // Optional whitespace and letter case around the weight.
    ['is ; q=0.9 , en ;Q=0.8', 'is'],
    ['is;q=1.000,en;q=0.999', 'is'],
  ])('%j → %s', (header, expected) => {
    expect(choose(header)).toBe(expected);
    // The header beats KENNI_UI_LOCALES whenever it accepts one of ours.
    expect(choose(header, expected === 'is' ? 'en' : 'is')).toBe(expected);
  });

  it('q=0 means "not acceptable": never chosen, even against * or KENNI_UI_LOCALES', () => {
    expect(choose('is;q=0, en;q=0.1')).toBe('en');
    expect(choose('is;q=0, *')).toBe('en');
    expect(choose('en;q=0, *;q=0.5')).toBe('is');
    expect(choose('is;q=0', 'is')).toBe('en');
    expect(choose('en;q=0')).toBe('is');
    expect(choose('is-IS;q=0, *')).toBe('en');
    // Refusing a region keeps the language: "is-IS;q=0, is" accepts Icelandic.
    expect(choose('is-IS;q=0, is;q=0.5, en;q=0.4')).toBe('is');
    // Both refused: nothing is acceptable, so the configured language (or English) after all.
    expect(choose('is;q=0, en;q=0', 'is')).toBe('is');
    expect(choose('is;q=0, en;q=0')).toBe('en');
  });

  it('* accepts either: KENNI_UI_LOCALES breaks the tie, else English; a named language beats *', () => {
    expect(choose('*')).toBe('en');
    expect(choose('*', 'is')).toBe('is');
    expect(choose('de, *;q=0.5', 'is')).toBe('is');
    expect(choose('*;q=0.5, is;q=0.6')).toBe('is');
    expect(choose('is;q=0.4, *;q=0.5')).toBe('en');
    expect(choose('*;q=0', 'is')).toBe('is');
  });

  it('a header accepting neither language falls back to KENNI_UI_LOCALES, else English', () => {
    expect(choose('de-DE,de;q=0.9', 'is')).toBe('is');
    expect(choose('de-DE,de;q=0.9', 'en')).toBe('en');
    expect(choose('de-DE,de;q=0.9')).toBe('en');
    expect(choose('fo, da', 'fr is')).toBe('is');
  });

  it.each([
    ['is;q=2, en', 'en'],
    ['is;q=abc, en;q=0.1', 'en'],
    ['is;q=0.5555, en;q=0.1', 'en'],
    ['is;q=-1', 'fallback'],
    ['is;;q=1', 'fallback'],
    ['is;level=1', 'fallback'],
    ['ís, en;q=0.2', 'en'],
    ['is-, en;q=0.1', 'en'],
    ['-is', 'fallback'],
    ['isl', 'fallback'],
    ['i s', 'fallback'],
    [',,,;;;===', 'fallback'],
    ['   ', 'fallback'],
    ['is\u00ff', 'fallback'],
    ['\tis\t;q=0.5', 'is'],
    ['*;q=x', 'fallback'],
    ['en;q=', 'fallback'],
    ['x'.repeat(100_000), 'fallback'],
    [`${'de,'.repeat(40)}is`, 'fallback'],
    [`${'a'.repeat(2000)}, is`, 'fallback'],
    ['is'.padEnd(1000, ' ') + ', en', 'is'],
  ])('malformed %j is skipped, never thrown on (→ %s)', (header, expected) => {
    expect(choose(header, 'is')).toBe(expected === 'fallback' ? 'is' : expected);
    expect(choose(header)).toBe(expected === 'fallback' ? 'en' : expected);
  });

  it('reads a long header only up to a bound', () => {
    // The 33rd range is beyond what is read: a flood of ranges costs a bounded amount of work.
    expect(choose(`${'de,'.repeat(31)}is`)).toBe('is');
    expect(choose(`${'de,'.repeat(32)}is`)).toBe('en');
  });
});

describe('chooseLocale: without Accept-Language', () => {
  it('KENNI_UI_LOCALES: the first of is / en in the list; else English', () => {
    expect(choose(undefined, 'is')).toBe('is');
    expect(choose(undefined, 'en')).toBe('en');
    expect(choose(undefined, 'is en')).toBe('is');
    expect(choose(undefined, 'de is-IS en')).toBe('is');
    expect(choose(undefined, 'en-GB is')).toBe('en');
    expect(choose(undefined, 'de fr')).toBe('en');
    expect(choose(undefined, undefined)).toBe('en');
    expect(choose('', 'is')).toBe('is');
    expect(chooseLocale(request())).toBe('en');
  });

  it('configuredLocale ignores what is not a list of tags', () => {
    expect(configuredLocale('is,en')).toBe('is');
    expect(configuredLocale('  ')).toBeUndefined();
    expect(configuredLocale(42)).toBeUndefined();
    expect(configuredLocale(['is'])).toBeUndefined();
    expect(configuredLocale('iceland')).toBeUndefined();
  });
});
