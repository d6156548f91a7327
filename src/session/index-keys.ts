/**
 * The KV indexes that find a user's sessions without a record read, each entry
 * one key per session (concurrent logins never overwrite each other) written
 * with the record's own `expirationTtl`:
 *
 * - `user:<hex sha256(sub)>:<key hash>`: the subject, and on a delegated
 *   sign-in also the acting person's `sub`;
 * - `sid:<hex sha256(sid)>:<key hash>`: the provider session (`sid`), for
 *   back-channel logout; one provider session may cover several edge sessions;
 * - `nid:<hex HMAC-SHA256(national id)>:<key hash>`: the kennitala (subject's
 *   and actor's) under a key derived from `SESSION_SECRET`, since a plain hash
 *   of ten digits is reversed by enumeration.
 *
 * The key hash is `sha256(cookie value)`, so no key, value or metadata leads
 * back to a cookie or a kennitala. Listing data lives in each entry's metadata.
 */
import type { KenniEdgeConfig } from '../config-types.ts';
import { readIdentity } from '../identity/claims.ts';
import { deriveMacKey, sha256Hex, toHex } from './seal.ts';
import type { SessionRecord } from './session-types.ts';

/** What a `user:` index entry carries as KV metadata (listing needs no record read). */
export interface SessionIndexMetadata {
  created_at: number;
  last_seen_at: number;
  /** A short description such as "Firefox on Linux"; never the raw header. */
  user_agent: string;
  /** True when the indexed user is the person at the keyboard (false: a subject someone acts for). */
  self: boolean;
}

/** One index entry as a listing returns it. */
export interface IndexEntry {
  key: string;
  keyHash: string;
  metadata: SessionIndexMetadata | undefined;
}

const encoder = new TextEncoder();

/** The `user:` prefix of a subject's entries. */
export async function subjectPrefix(sub: string): Promise<string> {
  return `user:${await sha256Hex(sub)}:`;
}

/** The `sid:` prefix of a provider session's entries. */
export async function sidPrefix(sid: string): Promise<string> {
  return `sid:${await sha256Hex(sid)}:`;
}

/** The `nid:` prefix of a kennitala's entries: a keyed MAC, so the index cannot be enumerated back. */
export async function nationalIdPrefix(
  config: KenniEdgeConfig,
  nationalId: string,
  secret = config.sessionSecret,
): Promise<string> {
  return `nid:${await macHex(secret, 'national-id-index', nationalId)}:`;
}

/**
 * The `nid:` prefixes of a kennitala under `SESSION_SECRET` and each of
 * `SESSION_SECRET_PREVIOUS`: entries written before a rotation keep being
 * found (and deleted) until their sessions write them again under the new one.
 */
export function nationalIdPrefixes(config: KenniEdgeConfig, nationalId: string): Promise<string[]> {
  const secrets = [config.sessionSecret, ...config.previousSessionSecrets];
  return Promise.all(secrets.map((secret) => nationalIdPrefix(config, nationalId, secret)));
}

/** The handle `GET /auth/sessions` shows for a session: a keyed MAC of its key hash, never the key hash or the cookie. */
export async function sessionHandle(config: KenniEdgeConfig, keyHash: string): Promise<string> {
  return (await macHex(config.sessionSecret, 'session-handle', keyHash)).slice(0, 32);
}

/** Every index key of one session, with the metadata a `user:` entry carries (`undefined` for the others). */
export async function indexEntriesOf(
  config: KenniEdgeConfig,
  keyHash: string,
  record: SessionRecord,
): Promise<Array<{ key: string; metadata?: SessionIndexMetadata }>> {
  const base = {
    created_at: record.created_at,
    last_seen_at: record.last_seen_at,
    user_agent: record.user_agent ?? '',
  };
  const actor = actorOf(record);
  const entries: Array<{ key: string; metadata?: SessionIndexMetadata }> = [
    { key: `${await subjectPrefix(record.sub)}${keyHash}`, metadata: { ...base, self: actor === undefined } },
  ];
  if (actor?.sub !== undefined && actor.sub !== record.sub)
    entries.push({ key: `${await subjectPrefix(actor.sub)}${keyHash}`, metadata: { ...base, self: true } });
  if (record.sid !== undefined) entries.push({ key: `${await sidPrefix(record.sid)}${keyHash}` });
  for (const nationalId of nationalIdsOf(record, actor))
    entries.push({ key: `${await nationalIdPrefix(config, nationalId)}${keyHash}` });
  return entries;
}

/** Writes (or moves the lifetime and metadata of) every index entry of a session. */
export async function writeSessionIndexes(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  keyHash: string,
  record: SessionRecord,
  expirationTtl: number,
): Promise<void> {
  const entries = await indexEntriesOf(config, keyHash, record);
  await Promise.all(
    entries.map(({ key, metadata }) => kv.put(key, '', metadata ? { expirationTtl, metadata } : { expirationTtl })),
  );
}

/** Deletes every index entry of a session. */
export async function deleteSessionIndexes(
  config: KenniEdgeConfig,
  kv: KVNamespace,
  keyHash: string,
  record: SessionRecord,
): Promise<void> {
  const keys = (await indexEntriesOf(config, keyHash, record)).map(({ key }) => key);
  // A `nid:` entry written before a SESSION_SECRET rotation is keyed under the old secret.
  for (const previous of config.previousSessionSecrets)
    for (const nationalId of nationalIdsOf(record))
      keys.push(`${await nationalIdPrefix(config, nationalId, previous)}${keyHash}`);
  await Promise.all(keys.map((key) => kv.delete(key)));
}

/** Every entry under an index prefix (all pages of the KV listing). */
export async function listIndex(kv: KVNamespace, prefix: string): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  let cursor: string | undefined;
  do {
    const page: KVNamespaceListResult<SessionIndexMetadata> = await kv.list<SessionIndexMetadata>({
      prefix,
      ...(cursor ? { cursor } : {}),
    });
    for (const { name, metadata } of page.keys) {
      const keyHash = name.slice(prefix.length);
      if (/^[0-9a-f]{64}$/.test(keyHash)) entries.push({ key: name, keyHash, metadata: metadata ?? undefined });
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return entries;
}

/** The kennitalas a session is indexed under: its subject's and its acting person's. */
function nationalIdsOf(record: SessionRecord, actor = actorOf(record)): Set<string> {
  return new Set(
    [record.claims.national_id, actor?.national_id].filter((value): value is string => typeof value === 'string'),
  );
}

/** The acting person of a delegated session, when the record names one. */
function actorOf(record: SessionRecord): { sub?: string; national_id?: string } | undefined {
  try {
    return readIdentity(record.claims, record.sub).actor;
  } catch {
    return undefined; // the record was checked at login; a malformed actor indexes only the subject
  }
}

async function macHex(secret: string, purpose: 'national-id-index' | 'session-handle', text: string): Promise<string> {
  const key = await deriveMacKey(secret, purpose);
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(text)));
}
