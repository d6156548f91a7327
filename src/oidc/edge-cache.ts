/**
 * A small JSON cache in the Cache API, shared by the isolates of a data centre.
 * The Cache API is a no-op on `*.workers.dev`, so callers also keep an isolate copy.
 */

const CACHE_HOST = 'https://kenni-edge.cache.internal';

/** Reads a JSON value stored by {@link writeEdgeCache}; `undefined` on a miss or any cache failure. */
export async function readEdgeCache<T>(name: string): Promise<{ value: T; storedAt: number } | undefined> {
  try {
    const hit = await caches.default.match(cacheUrl(name));
    if (!hit) return undefined;
    const stored = (await hit.json()) as { value: T; storedAt: number };
    return stored;
  } catch {
    return undefined;
  }
}

/** Stores a JSON value for `ttlSeconds`; failures are ignored (the cache is an optimisation). */
export async function writeEdgeCache(name: string, value: unknown, ttlSeconds: number, storedAt = Date.now()): Promise<void> {
  try {
    await caches.default.put(
      cacheUrl(name),
      new Response(JSON.stringify({ value, storedAt }), {
        headers: { 'content-type': 'application/json', 'cache-control': `max-age=${Math.max(1, Math.floor(ttlSeconds))}` },
      }),
    );
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
