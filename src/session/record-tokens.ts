/**
 * What a session record seals: the provider's tokens and the identity claims
 * together, in one AES-GCM value under the `session-record` key, bound to the
 * record's key hash; opened under `SESSION_SECRET` or one of
 * `SESSION_SECRET_PREVIOUS`. One value, so a KV read costs one decryption.
 */
import type { KenniEdgeConfig } from '../config.ts';
import type { ProviderTokens } from '../provider/index.ts';
import type { ActiveSession, SessionRecord } from './session-types.ts';
import { deriveSealKey, seal, unsealWithSecrets, type SealSecrets } from './seal.ts';

/** The plaintext of a record's sealed value. */
export interface SessionContents {
  tokens: ProviderTokens;
  claims: Record<string, unknown>;
}

/** Opens a record's sealed tokens (no isolate cache): for ending a session found through an index. */
export async function unsealRecordTokens(
  config: KenniEdgeConfig,
  session: Pick<ActiveSession, 'keyHash' | 'record'>,
): Promise<ProviderTokens | undefined> {
  return openSessionTokens(config, session.record, session.keyHash);
}

/** Opens a record's tokens under `SESSION_SECRET` or a previous one; the next token write re-seals under the current. */
export async function openSessionTokens(
  config: KenniEdgeConfig,
  record: SessionRecord,
  keyHash: string,
): Promise<ProviderTokens | undefined> {
  return (await openSessionContents(config, record.tokens, keyHash))?.tokens;
}

/** Opens a sealed `{ tokens, claims }` value; `undefined` when no configured secret opens it or it has another shape. */
export async function openSessionContents(
  secrets: SealSecrets,
  sealed: string,
  keyHash: string,
): Promise<SessionContents | undefined> {
  const contents = await unsealWithSecrets<Partial<SessionContents>>(
    secrets,
    'session-record',
    sealed,
    `session:${keyHash}`,
  );
  if (!isObject(contents?.tokens) || !isObject(contents.claims)) return undefined;
  return { tokens: contents.tokens, claims: contents.claims };
}

/** Seals `tokens` and `claims` for the record at `keyHash`, always under the current `SESSION_SECRET`. */
export async function sealSessionContents(
  config: KenniEdgeConfig,
  keyHash: string,
  tokens: ProviderTokens,
  claims: Record<string, unknown>,
): Promise<string> {
  const key = await deriveSealKey(config.sessionSecret, 'session-record');
  return seal(key, { tokens, claims } satisfies SessionContents, `session:${keyHash}`);
}

/** Opens tokens sealed alone under the `session-tokens` key, as records written before claims were sealed hold them. */
export function openLegacyTokens(
  secrets: SealSecrets,
  sealed: string,
  keyHash: string,
): Promise<ProviderTokens | undefined> {
  return unsealWithSecrets<ProviderTokens>(secrets, 'session-tokens', sealed, `session:${keyHash}`);
}

function isObject<T>(value: T | undefined): value is T & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
