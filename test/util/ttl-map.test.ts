import { describe, expect, it } from 'vitest';
import { TtlMap } from '../../src/util/ttl-map.ts';

/** A hand-driven clock in seconds. */
function clock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (seconds: number) => (now += seconds) };
}

describe('TtlMap', () => {
  it('returns a value until its TTL has passed, then forgets it', () => {
    const time = clock();
    const map = new TtlMap<string, number>({ maxEntries: 10, ttlSeconds: 60, now: time.now });
    map.set('a', 1);
    time.advance(59);
    expect(map.get('a')).toBe(1);
    expect(map.has('a')).toBe(true);
    time.advance(1);
    expect(map.get('a')).toBeUndefined();
    expect(map.has('a')).toBe(false);
    expect(map.size).toBe(0);
  });

  it('takes a per-entry TTL over the default', () => {
    const time = clock();
    const map = new TtlMap<string, string>({ maxEntries: 10, ttlSeconds: 60, now: time.now });
    map.set('short', 's', 5);
    map.set('long', 'l', 600);
    time.advance(61);
    expect(map.get('short')).toBeUndefined();
    expect(map.get('long')).toBe('l');
  });

  it('evicts the entry set longest ago when full; setting a key again makes it the newest', () => {
    const time = clock();
    const map = new TtlMap<string, number>({ maxEntries: 3, ttlSeconds: 60, now: time.now });
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    map.set('a', 10);
    map.set('d', 4);
    expect(map.get('b')).toBeUndefined();
    expect([map.get('a'), map.get('c'), map.get('d')]).toEqual([10, 3, 4]);
    expect(map.size).toBe(3);
  });

  it('drops expired entries before evicting a live one', () => {
    const time = clock();
    const map = new TtlMap<string, number>({ maxEntries: 2, ttlSeconds: 60, now: time.now });
    map.set('old', 1, 1);
    map.set('live', 2);
    time.advance(2);
    map.set('new', 3);
    expect(map.get('live')).toBe(2);
    expect(map.get('new')).toBe(3);
    expect(map.size).toBe(2);
  });

  it('deletes and clears', () => {
    const map = new TtlMap<string, number>({ maxEntries: 5, ttlSeconds: 60 });
    map.set('a', 1);
    map.set('b', 2);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.size).toBe(1);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get('b')).toBeUndefined();
  });

  it('holds undefined values as entries', () => {
    const map = new TtlMap<string, undefined>({ maxEntries: 5, ttlSeconds: 60 });
    map.set('nothing', undefined);
    expect(map.has('nothing')).toBe(true);
    expect(map.has('other')).toBe(false);
  });

  it('stays bounded under many distinct keys', () => {
    const map = new TtlMap<number, number>({ maxEntries: 100, ttlSeconds: 60 });
    for (let i = 0; i < 10_000; i++) map.set(i, i);
    expect(map.size).toBe(100);
    expect(map.get(9_999)).toBe(9_999);
    expect(map.get(9_899)).toBeUndefined();
  });
});
