/**
 * Introspection and revocation of JWT access tokens. oidc-provider refuses
 * any JWT at both endpoints (`unsupported_token_type`) and keeps no record of
 * JWT-format tokens; Kenni's JWT access tokens can be introspected. So the
 * dev provider records each JWT access token it issues (by `jti`, tied to its
 * grant), verifies a presented JWT itself and hands oidc-provider an alias of
 * that record: the `jti` behind a per-process secret, which the memory
 * adapter resolves (see {@link JwtTokenAliases}).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

import { jwtVerify, type CryptoKey } from 'jose';
import { readBody } from '../http.ts';

/** Stands in for a JWT that fails verification (or a forged alias): found nowhere, so introspection says `active: false`. */
const UNKNOWN_TOKEN = 'unverifiable-structured-token';

/**
 * Aliases for JWT access tokens that this provider signed and the request
 * handler verified. An alias holds a random per-process secret, so a client
 * cannot name a stored JWT access token by its `jti` (visible in the JWT)
 * without presenting the signed JWT itself.
 */
export class JwtTokenAliases {
  readonly #prefix = `~jwt~${randomBytes(16).toString('base64url')}~`;

  /** The alias oidc-provider looks up for a verified token's `jti`. */
  aliasFor(jti: string): string {
    return `${this.#prefix}${jti}`;
  }

  /** The `jti` an alias stands for, or `undefined` when `id` is no alias of this process. */
  jtiOf(id: string): string | undefined {
    return id.startsWith(this.#prefix) ? id.slice(this.#prefix.length) : undefined;
  }
}

/**
 * Reads a form-encoded introspection or revocation request and, when its
 * `token` is a compact JWS, replaces it with the alias of a JWT access token
 * this provider signed (verified: signature, `iss`, `typ`, `exp`), or with an
 * id that matches nothing. Returns the request to hand to oidc-provider:
 * `req` itself when it has no form body, else a replay carrying the body.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function resolveStructuredToken(
  req: IncomingMessage,
  issuer: string,
  publicKey: CryptoKey,
  aliases: JwtTokenAliases,
): Promise<IncomingMessage> {
  if (req.method !== 'POST') return req;
  let body: URLSearchParams;
  try {
    body = new URLSearchParams(await readBody(req));
  } catch {
    // Too large: oidc-provider answers the empty replay with its own 400 (or 401 without client credentials).
    body = new URLSearchParams();
  }
  const token = body.get('token') ?? '';
  if (body.getAll('token').length === 1 && token.split('.').length === 3) {
    body.set('token', await verifiedAlias(token, issuer, publicKey, aliases));
  }
  return replayWithBody(req, body.toString());
}

async function verifiedAlias(
  token: string,
  issuer: string,
  publicKey: CryptoKey,
  aliases: JwtTokenAliases,
): Promise<string> {
  try {
    const { payload } = await jwtVerify(token, publicKey, { issuer, typ: 'at+jwt', algorithms: ['RS256'] });
    return typeof payload.jti === 'string' && payload.jti ? aliases.aliasFor(payload.jti) : UNKNOWN_TOKEN;
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

/**
 * oidc-provider's `formats.customizers.jwt`: leaves the JWT as it is and
 * stores a record of the token, as it stores opaque ones (same fields), but
 * marked `format: 'jwt'` so that only a {@link JwtTokenAliases} alias finds it,
 * never the bare `jti`. Revoking the token or its grant deletes the record.
 */
export async function recordJwtAccessToken(_ctx: unknown, token: any, jwt: { payload: Record<string, unknown> }) {
  const record: Record<string, unknown> = {};
  for (const key of token.constructor.IN_PAYLOAD as string[]) {
    if (token[key] !== undefined) record[key] = token[key];
  }
  Object.assign(record, { iat: jwt.payload.iat, exp: jwt.payload.exp, format: 'jwt' });
  const ttl = Number(jwt.payload.exp) - Math.floor(Date.now() / 1000);
  if (ttl > 0) await token.adapter.upsert(token.jti, record, ttl);
}
