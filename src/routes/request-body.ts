/**
 * Bounded reading of small request bodies (a logout token form, an admin JSON
 * body): a body over the limit is refused after at most `limit` bytes are read,
 * whatever `Content-Length` claims.
 */

/** A body that is too large, of the wrong type, or not valid UTF-8. */
export class RequestBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestBodyError';
  }
}

/** The request's body as UTF-8 text when its media type is `mediaType` and it has at most `limit` bytes. */
export async function readSmallBody(request: Request, mediaType: string, limit: number): Promise<string> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== mediaType) throw new RequestBodyError(`The body must be ${mediaType}.`);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw new RequestBodyError('The body is too large.');
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new RequestBodyError('The body is too large.');
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new RequestBodyError('The body is not valid UTF-8.');
  }
}
