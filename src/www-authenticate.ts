/**
 * RFC 6750 `WWW-Authenticate` challenges, and the limit on what a client's own
 * values (e.g. `?scope=`) may add to a response.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */

/** At most this many characters of a value a client supplied are reflected in a response (header, JSON body or page). */
export const MAX_REFLECTED_LENGTH = 256;

/**
 * Cuts a space-separated scope list short for reflection: whole scope values,
 * in order, as many as fit in {@link MAX_REFLECTED_LENGTH} characters, so a
 * huge `?scope=` cannot make a huge `WWW-Authenticate` header.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function cutScopeList(scopes: string): string {
  let kept = '';
  for (const scope of scopes.split(' ')) {
    if (!scope) continue;
    const next = kept ? `${kept} ${scope}` : scope;
    if (next.length > MAX_REFLECTED_LENGTH) break;
    kept = next;
  }
  return kept;
}

/**
 * Quotes a value for an RFC 6750 `WWW-Authenticate` auth-param (quoted-string):
 * backslashes and double quotes are escaped, control characters dropped.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.4
 */
export function quoteAuthParam(value: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${value.replace(/[\u0000-\u001f\u007f]/g, '').replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Builds an RFC 6750 Bearer challenge, like Hono's `jwk` middleware does
 * (with RFC 9470's `max_age` for a step-up), naming the resource metadata on
 * API routes.
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-5.1
 */
export function bearerChallenge(params: {
  realm: string;
  error?: string;
  description?: string;
  scope?: string;
  /** RFC 9470 `max_age` (a token, unquoted: whole seconds). */
  maxAge?: number;
  /** The absolute URL of the protected resource metadata (RFC 9728 §5.1). */
  resourceMetadata?: string;
}): string {
  const parts = [`realm=${quoteAuthParam(params.realm)}`];
  if (params.error) parts.push(`error=${quoteAuthParam(params.error)}`);
  if (params.description) parts.push(`error_description=${quoteAuthParam(params.description)}`);
  if (params.scope) parts.push(`scope=${quoteAuthParam(params.scope)}`);
  if (params.maxAge !== undefined) parts.push(`max_age=${Math.floor(params.maxAge)}`);
  if (params.resourceMetadata) parts.push(`resource_metadata=${quoteAuthParam(params.resourceMetadata)}`);
  return `Bearer ${parts.join(', ')}`;
}

/** The realm named in every Bearer challenge. */
export const BEARER_REALM = 'kenni-edge';
