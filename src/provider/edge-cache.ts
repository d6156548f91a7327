/**
 * A small JSON cache in the Cache API, shared by the isolates of a data centre.
 * The Cache API is a no-op on `*.workers.dev`, so callers also keep an isolate copy.
 *
 * Other workers on the same zone can read and write the same cache, so every
 * entry is authenticated: HMAC-SHA256 under a key derived from `SESSION_SECRET`
 * (HKDF, its own info label) over the entry's name, its storage time and its
 * value. An entry that fails the check (planted, tampered with, moved from
 * another name, written under another secret) is a miss, logged once.
 * @see https://www.rfc-editor.org/rfc/rfc2104
 */
import type { KenniEdgeConfig } from '../config.ts';
import { logEvent } from '../log.ts';
import { base64UrlDecode, base64UrlEncode, deriveMacKey } from '../session/seal.ts';
import { TtlMap } from '../util/ttl-map.ts';

const CACHE_HOST = 'https://kenni-edge.cache.internal';
/** Starts every entry; a new layout gets a new prefix, so old entries are simply misses. */
const FORMAT = 'kenni-edge-cache-v1';
const ENTRY = /^kenni-edge-cache-v1\.([A-Za-z0-9_-]{43})\.(.*)$/s;

/** What the edge cache needs from the configuration: the secret its MAC key is derived from. */
export type EdgeCacheSecret = Pick<KenniEdgeConfig, 'sessionSecret'>;

/** A value read back from the cache with the time it was stored (milliseconds since the epoch). */
export interface EdgeCacheEntry<T> {
  value: T;
  storedAt: number;
}

const encoder = new TextEncoder();
/** Names whose refused entry was already logged in this isolate (for a day): an entry read again and again is logged once. */
const loggedRefusals = new TtlMap<string, true>({ maxEntries: 1000, ttlSeconds: 86_400 });

/**
 * Reads a JSON value stored by {@link writeEdgeCache} under `name`; `undefined`
 * on a miss, any cache failure, or an entry whose MAC does not verify.
 */
export async function readEdgeCache<T>(secret: EdgeCacheSecret, name: string): Promise<EdgeCacheEntry<T> | undefined> {
  let text: string;
  try {
    const hit = await caches.default.match(cacheUrl(name));
    if (!hit) return undefined;
    text = await hit.text();
  } catch {
    return undefined;
  }
  const match = ENTRY.exec(text);
  const mac = match && base64UrlDecode(match[1]!);
  if (!match || !mac) return refuse(name, 'malformed');
  const payload = match[2]!;
  try {
    const key = await deriveMacKey(secret.sessionSecret, 'edge-cache');
    if (!(await crypto.subtle.verify('HMAC', key, mac, macInput(name, payload)))) return refuse(name, 'bad_mac');
  } catch {
    return undefined;
  }
  try {
    const stored = JSON.parse(payload) as Partial<EdgeCacheEntry<T>>;
    if (typeof stored.storedAt !== 'number' || !('value' in stored)) return refuse(name, 'malformed');
    return { value: stored.value as T, storedAt: stored.storedAt };
  } catch {
    return refuse(name, 'malformed');
  }
}

/** Stores a JSON value under `name` for `ttlSeconds`, with its MAC; failures are ignored (the cache is an optimisation). */
export async function writeEdgeCache(
  secret: EdgeCacheSecret,
  name: string,
  value: unknown,
  ttlSeconds: number,
  storedAt = Date.now(),
): Promise<void> {
  try {
    const payload = JSON.stringify({ value, storedAt });
    const key = await deriveMacKey(secret.sessionSecret, 'edge-cache');
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, macInput(name, payload)));
    await caches.default.put(
      cacheUrl(name),
      new Response(`${FORMAT}.${base64UrlEncode(mac)}.${payload}`, {
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': `max-age=${Math.max(1, Math.floor(ttlSeconds))}`,
        },
      }),
    );
    loggedRefusals.delete(name);
  } catch {
    // The Cache API can be unavailable; the isolate copy still serves.
  }
}

/** Removes a cached value (used by tests and on explicit invalidation). */
export async function deleteEdgeCache(name: string): Promise<void> {
  try {
    await caches.default.delete(cacheUrl(name));
  } catch {
    // ignore
  }
}

function cacheUrl(name: string): string {
  return `${CACHE_HOST}/${encodeURIComponent(name)}`;
}

/** The MAC covers the format and the name (length-prefixed), so an entry only verifies under the name it was written for. */
function macInput(name: string, payload: string): Uint8Array {
  return encoder.encode(`${FORMAT}\u0000${name.length}:${name}\u0000${payload}`);
}

/**
 * Logs a refused entry once per name (until the edge writes that name again);
 * the log names only the kind of entry, never the name (it can hold a hash of
 * a secret) or the contents.
 */
function refuse(name: string, reason: 'malformed' | 'bad_mac'): undefined {
  if (!loggedRefusals.has(name)) {
    loggedRefusals.set(name, true);
    logEvent('cache_entry_rejected', { reason, detail: name.split(' ', 1)[0] });
  }
  return undefined;
}
