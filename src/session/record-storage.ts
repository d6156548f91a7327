/**
 * The one place a session record becomes what KV (and the SessionLock's
 * storage) holds, and back: the stored form has no identity claims in clear
 * (they are sealed with the tokens); `sub` and the protocol fields stay in clear.
 * Records written before claims were sealed (`version: 1`, claims in clear)
 * still open, and are sealed in memory so their next write stores them sealed.
 */
import type { KenniEdgeConfig } from '../config.ts';
import type { ProviderTokens } from '../provider/index.ts';
import { openLegacyTokens, openSessionContents, sealSessionContents } from './record-tokens.ts';
import type { SessionRecord } from './session-types.ts';

/** A session record as stored: the in-memory record without `claims`, which sit sealed in `tokens`. */
export type StoredSessionRecord = Omit<SessionRecord, 'claims'>;

/** A record as the previous version stored it: identity claims in clear, tokens sealed alone. */
interface LegacySessionRecord extends Omit<SessionRecord, 'version'> {
  version: 1;
}

/** A stored record opened: the record every reader uses, and its tokens (decrypted on the way). */
export interface OpenedRecord {
  record: SessionRecord;
  tokens: ProviderTokens;
}

/** The stored form of a record: its identity claims dropped, since `record.tokens` already seals them. */
export function toStoredRecord(record: SessionRecord): StoredSessionRecord {
  const { claims: _sealed, ...stored } = record;
  return stored;
}

/** True when a stored value is a session record this edge wrote, in either format (no decryption). */
export function isStoredRecord(value: unknown): value is StoredSessionRecord | LegacySessionRecord {
  const record = value as Partial<LegacySessionRecord | StoredSessionRecord> | null | undefined;
  if (typeof record?.sub !== 'string' || typeof record.tokens !== 'string') return false;
  if (record.version === 2) return true;
  return record.version === 1 && typeof (record as Partial<LegacySessionRecord>).claims === 'object';
}

/**
 * Opens a stored record with one decryption; a `version: 1` record is re-sealed
 * in memory (one encryption, only while such records remain). `undefined`
 * when no configured secret opens it.
 */
export async function openStoredRecord(
  config: KenniEdgeConfig,
  keyHash: string,
  stored: StoredSessionRecord | LegacySessionRecord,
): Promise<OpenedRecord | undefined> {
  if (stored.version === 2) {
    const contents = await openSessionContents(config, stored.tokens, keyHash);
    return contents && { record: { ...stored, claims: contents.claims }, tokens: contents.tokens };
  }
  const tokens = await openLegacyTokens(config, stored.tokens, keyHash);
  if (!tokens) return undefined;
  const sealed = await sealSessionContents(config, keyHash, tokens, stored.claims);
  return { record: { ...stored, version: 2, tokens: sealed }, tokens };
}

/**
 * A stored record for ending its session: opened when a secret opens it, else
 * what is in clear (a legacy record's claims; none for a sealed one), so the
 * indexes it names in clear are still removed.
 */
export async function recordToEnd(
  config: KenniEdgeConfig,
  keyHash: string,
  stored: StoredSessionRecord | LegacySessionRecord,
): Promise<{ record: SessionRecord; tokens: ProviderTokens | undefined }> {
  const opened = await openStoredRecord(config, keyHash, stored);
  if (opened) return opened;
  return { record: { ...stored, version: 2, claims: stored.version === 1 ? stored.claims : {} }, tokens: undefined };
}

/** A session's record as KV holds it, or `undefined` when there is none (or it is no record). */
export async function readStored(
  kv: KVNamespace,
  keyHash: string,
): Promise<StoredSessionRecord | LegacySessionRecord | undefined> {
  const stored = await kv.get(`session:${keyHash}`, 'json');
  return isStoredRecord(stored) ? stored : undefined;
}
