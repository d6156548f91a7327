/**
 * A bounded map whose entries expire: the one eviction scheme for state an
 * isolate keeps between requests (remembered tokens, cached documents).
 * Expired entries are dropped lazily; when the map is full, the entry set
 * longest ago goes first. Every operation is O(1) amortised.
 */
import { nowSeconds } from '../time.ts';

/** Options of a {@link TtlMap}. */
export interface TtlMapOptions {
  /** Most entries held at once; setting a new key when full evicts the oldest. */
  maxEntries: number;
  /** Default lifetime of an entry, in seconds. */
  ttlSeconds: number;
  /** The clock in seconds (fractions allowed); default {@link nowSeconds}. */
  now?: () => number;
}

interface Slot<V> {
  value: V;
  expiresAt: number;
}

/**
 * A `Map` with a lifetime per entry and a size bound.
 * @example
 * const seen = new TtlMap<string, number>({ maxEntries: 1000, ttlSeconds: 60 });
 * seen.set('a', 1);
 * seen.get('a'); // 1, for the next 60 seconds
 */
export class TtlMap<K, V> {
  readonly #entries = new Map<K, Slot<V>>();
  readonly #maxEntries: number;
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(options: { maxEntries: number; ttlSeconds: number; now?: () => number }) {
    if (!(options.maxEntries >= 1)) throw new RangeError('TtlMap needs maxEntries >= 1');
    this.#maxEntries = options.maxEntries;
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? nowSeconds;
  }

  /** The value for `key`, or `undefined` when it is absent or expired (an expired entry is dropped). */
  get(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  /** Stores `value` for `ttlSeconds` (default: the map's); a key set again counts as the newest. */
  set(key: K, value: V, ttlSeconds: number = this.#ttlSeconds): void {
    const now = this.#now();
    this.#entries.delete(key);
    this.#sweep(now);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: now + ttlSeconds });
  }

  /** Removes `key`; true when an entry (expired or not) was held. */
  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** True when `key` has an entry that has not expired. */
  has(key: K): boolean {
    return this.#live(key) !== undefined;
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /** Entries held, after dropping the expired ones at the old end. */
  get size(): number {
    this.#sweep(this.#now());
    return this.#entries.size;
  }

  /** Drops expired entries from the old end; stops at the first live one, so the cost is paid once per entry. */
  #sweep(now: number): void {
    for (const [key, slot] of this.#entries) {
      if (slot.expiresAt > now) return;
      this.#entries.delete(key);
    }
  }

  #live(key: K): Slot<V> | undefined {
    const slot = this.#entries.get(key);
    if (slot && slot.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return slot;
  }
}
