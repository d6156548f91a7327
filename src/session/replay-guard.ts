/**
 * Where logout tokens' `jti`s are remembered across isolates: KV
 * (`jti:<hex sha256(iss + jti)>` with a TTL), and, when `SESSION_LOCKS` is
 * bound, the Durable Object of that name, which makes the check strict.
 * KV alone is eventually consistent: the same token sent to two locations
 * within KV's propagation window (about 60 s) could pass in both; ending the
 * same sessions twice is harmless, and the isolate map refuses it in one place.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
import type { Env } from '../config.ts';
import type { ReplayGuard } from '../provider/index.ts';
import { nowSeconds } from '../time.ts';
import type { SessionLock } from './lock.ts';

/** The replay guard of `env`: a KV read, the lock object's claim when bound, then a KV write. */
export function createReplayGuard(env: Pick<Env, 'SESSIONS' | 'SESSION_LOCKS'>): ReplayGuard {
  return {
    async claim(key, ttlSeconds) {
      if ((await env.SESSIONS.get(key)) !== null) return false;
      if (env.SESSION_LOCKS) {
        const namespace = env.SESSION_LOCKS as DurableObjectNamespace<SessionLock>;
        const claimed = await namespace.get(namespace.idFromName(key)).claimOnce(nowSeconds() + ttlSeconds);
        if (!claimed) return false;
      }
      // KV's minimum expirationTtl is 60 s.
      await env.SESSIONS.put(key, '1', { expirationTtl: Math.max(60, Math.ceil(ttlSeconds)) });
      return true;
    },
  };
}
