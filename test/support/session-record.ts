/**
 * Session records as KV holds them, opened as the edge opens them: the
 * identity claims and tokens are sealed together (src/session/record-storage.ts).
 */
import { env } from 'cloudflare:test';
import type { Env } from '../../src/config.ts';
import type { ProviderTokens } from '../../src/provider/index.ts';
import { isStoredRecord } from '../../src/session/record-storage.ts';
import { openSessionContents } from '../../src/session/record-tokens.ts';
import type { SessionRecord } from '../../src/session/session-types.ts';

const bindings = env as unknown as Env;

/**
 * The record at `kvKey` (`session:<keyHash>`), its claims opened with `secret`
 * (default: the test SESSION_SECRET) when it opens; `null` when KV has none.
 */
export async function openedRecord(
  kvKey: string,
  kv: KVNamespace = bindings.SESSIONS,
  secret = String(bindings.SESSION_SECRET),
): Promise<SessionRecord | null> {
  const stored = await kv.get(kvKey, 'json');
  if (!isStoredRecord(stored)) return null;
  if (stored.version === 1) return { ...stored, version: 2 };
  const contents = await openSessionContents(
    { sessionSecret: secret, previousSessionSecrets: [] },
    stored.tokens,
    kvKey.slice('session:'.length),
  );
  return { ...stored, claims: contents?.claims ?? {} } as SessionRecord;
}

/** Opens a record's sealed tokens with exactly one secret (default: the test SESSION_SECRET), no fallback. */
export async function openRecordTokens(
  record: { tokens: string },
  keyHash: string,
  secret = String(bindings.SESSION_SECRET),
): Promise<ProviderTokens | undefined> {
  return (await openSessionContents({ sessionSecret: secret, previousSessionSecrets: [] }, record.tokens, keyHash))
    ?.tokens;
}
