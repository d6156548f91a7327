/**
 * Introspection and revocation of JWT access tokens. oidc-provider refuses
 * any JWT at both endpoints (`unsupported_token_type`); Kenni's JWT access
 * tokens can be introspected, so the dev provider verifies the JWT itself
 * and hands oidc-provider the token's stored id (its `jti`) instead.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

import { jwtVerify, type CryptoKey } from 'jose';
import { readBody } from '../http.ts';

/** Stands in for a JWT that fails verification: found nowhere, so introspection says `active: false`. */
const UNKNOWN_TOKEN = 'unverifiable-structured-token';

/**
 * Reads a form-encoded introspection or revocation request and, when its
 * `token` is a compact JWS, replaces it with the `jti` of a JWT access token
 * this provider signed (verified: signature, `iss`, `typ`, `exp`), or with an
 * id that matches nothing. Returns the request to hand to oidc-provider:
 * `req` itself when untouched, else a replay carrying the rewritten body.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function resolveStructuredToken(
  req: IncomingMessage,
  issuer: string,
  publicKey: CryptoKey,
): Promise<IncomingMessage> {
  if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return req;
  }
  const body = new URLSearchParams(await readBody(req));
  const token = body.get('token') ?? '';
  if (body.getAll('token').length === 1 && token.split('.').length === 3) {
    body.set('token', await verifiedTokenId(token, issuer, publicKey));
  }
  return replayWithBody(req, body.toString());
}

async function verifiedTokenId(token: string, issuer: string, publicKey: CryptoKey): Promise<string> {
  try {
    const { payload } = await jwtVerify(token, publicKey, { issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    return typeof payload.jti === 'string' && payload.jti ? payload.jti : UNKNOWN_TOKEN;
  } catch {
    return UNKNOWN_TOKEN;
  }
}

/** A readable copy of `req` whose body is `body` (the original stream is already consumed). */
function replayWithBody(req: IncomingMessage, body: string): IncomingMessage {
  const buffer = Buffer.from(body, 'utf8');
  const replay = Readable.from([buffer], { objectMode: false });
  return Object.assign(replay, {
    method: req.method,
    url: req.url,
    headers: { ...req.headers, 'content-length': String(buffer.length) },
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
    socket: req.socket,
    connection: req.socket,
  }) as unknown as IncomingMessage;
}
