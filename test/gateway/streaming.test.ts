/**
 * Bodies stream through the gateway (issue #4): a 20 MB upload reaches the
 * origin while the client is still producing it, a 20 MB download reaches the
 * client while the origin is still sending it, both arrive intact, and
 * `ORIGIN_TIMEOUT` covers only the wait for the response head, so a slow body
 * is not cut off.
 */
import { describe, expect, it } from 'vitest';
import {
  NAVIGATION,
  patternByte,
  releaseGate,
  setUpGateway,
  sha256Hex,
  signIn,
  waitForOriginBytes,
} from './helpers.ts';

const MiB = 1024 * 1024;
const TOTAL = 20 * MiB;
const CHUNK = 64 * 1024;

/** The bytes `[offset, offset + length)` of the generated pattern. */
function patternChunk(offset: number, length: number): Uint8Array {
  const chunk = new Uint8Array(length);
  for (let index = 0; index < length; index++) chunk[index] = patternByte(offset + index);
  return chunk;
}

async function patternSha256(length: number): Promise<string> {
  return sha256Hex(patternChunk(0, length));
}

describe('uploads', () => {
  it('streams a 20 MB upload to the origin without buffering it: the origin receives bytes before the client has produced the rest', async () => {
    const setup = await setUpGateway();
    const { sub } = await signIn(setup);
    await setup.routeOrigin('POST', '/files/upload', { status: 201, json: { stored: true } });

    let produced = 0;
    const checkpoints: Array<{ produced: number; receivedAtOrigin: number }> = [];
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          // At 2 MiB and at 12 MiB, stop producing until the origin has the bytes produced so far:
          // a gateway that buffered the whole body before forwarding would never get there.
          if (produced === 2 * MiB || produced === 12 * MiB) {
            const progress = await waitForOriginBytes(setup, 'POST', '/files/upload', produced);
            checkpoints.push({ produced, receivedAtOrigin: progress.bytes });
          }
          if (produced >= TOTAL) {
            controller.close();
            return;
          }
          controller.enqueue(patternChunk(produced, CHUNK));
          produced += CHUNK;
        },
      },
      { highWaterMark: 0 },
    );

    const response = await setup.edge.fetch('/files/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'sec-fetch-site': 'same-origin' },
      body,
    });

    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ stored: true });
    expect(checkpoints).toEqual([
      { produced: 2 * MiB, receivedAtOrigin: 2 * MiB },
      { produced: 12 * MiB, receivedAtOrigin: 12 * MiB },
    ]);
    const [request] = await setup.originRequests();
    expect(request).toMatchObject({
      method: 'POST',
      path: '/origin/files/upload',
      bodyLength: TOTAL,
      bodySha256: await patternSha256(TOTAL),
    });
    expect(request!.headers['x-kenni-sub']).toBe(sub);
  });

  it('streams an upload with a Content-Length through as well, intact', async () => {
    const setup = await setUpGateway();
    await setup.routeOrigin('PUT', '/public/blob', { status: 204 });
    const bytes = patternChunk(0, 3 * MiB + 17);

    const response = await setup.edge.fetch('/public/blob', {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });

    expect(response.status).toBe(204);
    const [request] = await setup.originRequests();
    expect(request).toMatchObject({
      bodyLength: bytes.byteLength,
      bodySha256: await sha256Hex(bytes),
      bodyOmitted: true,
    });
    expect(request!.headers['content-length']).toBe(String(bytes.byteLength));
  });
});

describe('downloads', () => {
  it('streams a 20 MB download to the client while the origin is still sending it, intact', async () => {
    const setup = await setUpGateway();
    await signIn(setup);
    // The origin sends 64 KiB, then holds the rest until the test has read the first bytes through the edge.
    await setup.routeOrigin('GET', '/files/big.bin', {
      headers: { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="big.bin"' },
      download: { bytes: TOTAL, gate: 'rest' },
    });

    const response = await setup.edge.fetch('/files/big.bin', { headers: NAVIGATION });

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="big.bin"');
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(first.value!.byteLength).toBeGreaterThan(0);
    expect(first.value!.byteLength).toBeLessThanOrEqual(64 * 1024);

    await releaseGate(setup, 'rest');
    let received = 0;
    let mismatchAt = -1;
    for (let chunk = first; !chunk.done; chunk = await reader.read()) {
      const bytes = chunk.value;
      for (let index = 0; index < bytes.byteLength && mismatchAt < 0; index++) {
        if (bytes[index] !== patternByte(received + index)) mismatchAt = received + index;
      }
      received += bytes.byteLength;
    }
    expect(mismatchAt).toBe(-1);
    expect(received).toBe(TOTAL);
  });
});

describe('ORIGIN_TIMEOUT', () => {
  it('does not cut a response whose head came in time but whose body streams slowly for longer than the timeout', async () => {
    const setup = await setUpGateway({ edge: { ORIGIN_TIMEOUT: '1' } });
    await setup.routeOrigin('GET', '/public/report.txt', {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      chunks: [
        { body: 'Fyrsti hluti. ' },
        { body: 'Annar hluti. ', delayMs: 600 },
        { body: 'Síðasti hluti.', delayMs: 600 },
      ],
    });
    const started = Date.now();

    const response = await setup.edge.fetch('/public/report.txt');

    expect(response.status).toBe(200);
    expect(await response.text()).toBe('Fyrsti hluti. Annar hluti. Síðasti hluti.');
    // The body took longer than ORIGIN_TIMEOUT (1 s) and still arrived whole.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
