/** The dev provider's storage: oidc-provider models in memory, gone on restart. */
import type { JwtTokenAliases } from './structured-tokens.ts';

/**
 * The models a grant's revocation takes down (as in oidc-provider's own
 * memory adapter). An Interaction also carries a `grantId`, but revoking the
 * grant must not drop a sign-in in progress: on an account switch,
 * oidc-provider ends the old session (revoking its grants) and then resumes
 * that very interaction.
 */
const GRANTABLE_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Models whose JWT-format records may be looked up through a {@link JwtTokenAliases} alias. */
const JWT_ACCESS_TOKEN_MODELS = new Set(['AccessToken', 'ClientCredentials']);

/**
 * A small in-memory adapter (no LRU eviction, unlike oidc-provider's quick-start
 * one, whose use also prints a warning on every start). Entries expire on
 * their TTL; grants are indexed so revoking one drops its tokens.
 */
export function createMemoryAdapterFactory(aliases?: JwtTokenAliases) {
  interface Entry {
    payload: Record<string, any>;
    expiresAt: number;
  }
  const store = new Map<string, Entry>();
  const sessionIdByUid = new Map<string, string>();
  const idByUserCode = new Map<string, string>();
  const keysByGrantId = new Map<string, Set<string>>();
  let writesSinceSweep = 0;

  // Expired entries are dropped when read; a periodic sweep bounds the rest.
  const sweepExpired = () => {
    const now = Date.now();
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
    for (const [grantId, keys] of keysByGrantId) {
      for (const key of keys) if (!store.has(key)) keys.delete(key);
      if (keys.size === 0) keysByGrantId.delete(grantId);
    }
    for (const [uid, id] of sessionIdByUid) if (!store.has(`Session:${id}`)) sessionIdByUid.delete(uid);
  };

  const read = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  return class MemoryAdapter {
    model: string;
    constructor(model: string) {
      this.model = model;
    }

    key(id: string) {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Record<string, any>, expiresIn?: number) {
      if (++writesSinceSweep >= 1000) {
        writesSinceSweep = 0;
        sweepExpired();
      }
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      store.set(key, { payload, expiresAt });
      if (this.model === 'Session' && payload.uid) sessionIdByUid.set(payload.uid, id);
      if (payload.userCode) idByUserCode.set(payload.userCode, id);
      if (payload.grantId && GRANTABLE_MODELS.has(this.model)) {
        const keys = keysByGrantId.get(payload.grantId) ?? new Set<string>();
        keys.add(key);
        keysByGrantId.set(payload.grantId, keys);
      }
    }

    async find(id: string) {
      const jti = JWT_ACCESS_TOKEN_MODELS.has(this.model) ? aliases?.jtiOf(id) : undefined;
      if (jti === undefined) return read(this.key(id));
      // oidc-provider finds only opaque-format records; the JWT was verified, so present its record as one.
      const payload = read(this.key(jti));
      return payload?.format === 'jwt' ? { ...payload, format: 'opaque' } : undefined;
    }

    async findByUid(uid: string) {
      const id = sessionIdByUid.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode: string) {
      const id = idByUserCode.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id: string) {
      const payload = read(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string) {
      const key = this.key(id);
      const payload = read(key);
      store.delete(key);
      if (payload?.uid && sessionIdByUid.get(payload.uid) === id) sessionIdByUid.delete(payload.uid);
      if (payload?.userCode) idByUserCode.delete(payload.userCode);
      if (payload?.grantId) keysByGrantId.get(payload.grantId)?.delete(key);
    }

    async revokeByGrantId(grantId: string) {
      for (const key of keysByGrantId.get(grantId) ?? []) store.delete(key);
      keysByGrantId.delete(grantId);
    }
  };
}
