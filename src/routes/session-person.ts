/** Helpers the session-control routes share: whose sessions a request speaks for, small bodies, `waitUntil`. */
import type { Context } from 'hono';
import type { AppEnv } from '../context.ts';
import { sessionIdentity } from '../pipeline/authenticate.ts';
import type { ActiveSession } from '../session/store.ts';

/**
 * The `sub` of the person at the keyboard: the actor's on a delegated sign-in,
 * else the subject's. `undefined` when a delegation names its actor only by
 * kennitala: such a session may list and end only itself.
 */
export function personOf(session: ActiveSession): string | undefined {
  const { actor } = sessionIdentity(session);
  return actor ? actor.sub : session.record.sub;
}

/** The request's `waitUntil`, or undefined without an execution context (e.g. `app.request` in a script). */
export function waitUntilOf(c: Context<AppEnv>): ((work: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}

/** The body as text, or `undefined` past `maxBytes` (stops reading there: a large body costs nothing more). */
export async function readSmallBody(request: Request, maxBytes: number): Promise<string | undefined> {
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) return undefined;
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The request's media type, lower-cased, without parameters (`""` without a `Content-Type`). */
export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The body as text when its media type is `type` and it is at most `maxBytes` long; else `undefined`. */
export async function readTypedBody(request: Request, type: string, maxBytes: number): Promise<string | undefined> {
  return mediaType(request) === type ? readSmallBody(request, maxBytes) : undefined;
}
