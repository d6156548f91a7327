/**
 * A session record's provider tokens, sealed with AES-GCM under the
 * `session-tokens` key and bound to the record's key hash; opened under
 * `SESSION_SECRET` or one of `SESSION_SECRET_PREVIOUS`.
 */
import type { KenniEdgeConfig } from '../config.ts';
import type { ProviderTokens } from '../provider/index.ts';
import type { ActiveSession, SessionRecord } from './session-types.ts';
import { deriveSealKey, seal, unsealWithSecrets } from './seal.ts';

/** Opens a record's sealed tokens (no isolate cache): for ending a session found through an index. */
export async function unsealRecordTokens(
  config: KenniEdgeConfig,
  session: Pick<ActiveSession, 'keyHash' | 'record'>,
): Promise<ProviderTokens | undefined> {
  return openSessionTokens(config, session.record, session.keyHash);
}

/** Opens a record's tokens under `SESSION_SECRET` or a previous one; the next token write re-seals under the current. */
export function openSessionTokens(
  config: KenniEdgeConfig,
  record: SessionRecord,
  keyHash: string,
): Promise<ProviderTokens | undefined> {
  return unsealWithSecrets<ProviderTokens>(config, 'session-tokens', record.tokens, `session:${keyHash}`);
}

/** Seals `tokens` for the record at `keyHash`, always under the current `SESSION_SECRET`. */
export async function sealTokens(config: KenniEdgeConfig, keyHash: string, tokens: ProviderTokens): Promise<string> {
  const key = await deriveSealKey(config.sessionSecret, 'session-tokens');
  return seal(key, tokens, `session:${keyHash}`);
}
