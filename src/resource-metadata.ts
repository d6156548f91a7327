/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the edge as one protected
 * resource (its public origin), the document that names Kenni as its
 * authorization server, and the `resource_metadata` every Bearer challenge on
 * an API route points at, so a client that follows the spec (agents, MCP
 * clients) finds Kenni on its own.
 * @see https://www.rfc-editor.org/rfc/rfc9728
 */
import type { Context } from 'hono';
import type { KenniEdgeConfig } from './config-types.ts';
import type { AppEnv } from './context.ts';
import { AppError } from './errors.ts';

/** Where the metadata is served: the well-known path under the resource's origin (RFC 9728 §3.1). */
export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/**
 * The protected resource metadata document.
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-2
 */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
}

/**
 * The resource identifier: the edge's public origin, taken from
 * `KENNI_REDIRECT_URI` when set (the public origin may differ from what the
 * Worker sees), else from the request.
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-1.2
 */
export function resourceIdentifier(config: KenniEdgeConfig, requestUrl: string): string {
  return new URL(config.redirectUri ?? requestUrl).origin;
}

/** The absolute URL of the metadata document, as named in `resource_metadata`. */
export function resourceMetadataUrl(config: KenniEdgeConfig, requestUrl: string): string {
  return `${resourceIdentifier(config, requestUrl)}${RESOURCE_METADATA_PATH}`;
}

/**
 * The metadata: the edge's origin as `resource`, `KENNI_ISSUER` as its only
 * authorization server, the `KENNI_API_SCOPE` scopes, and bearer tokens in the
 * `Authorization` header only.
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-2
 */
export function protectedResourceMetadata(config: KenniEdgeConfig, requestUrl: string): ProtectedResourceMetadata {
  return {
    resource: resourceIdentifier(config, requestUrl),
    authorization_servers: [config.issuer],
    ...(config.apiScopes.length > 0 ? { scopes_supported: [...config.apiScopes] } : {}),
    bearer_methods_supported: ['header'],
  };
}

/**
 * Runs an API route's authentication and forwarding; an `AppError` it throws
 * names the metadata in its Bearer challenge (a 401 or 403 `WWW-Authenticate`).
 * @see https://www.rfc-editor.org/rfc/rfc9728#section-5.1
 */
export async function namingResourceMetadata<T>(c: Context<AppEnv>, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof AppError && error.resourceMetadata === undefined) {
      error.resourceMetadata = resourceMetadataUrl(c.get('config'), c.req.url);
    }
    throw error;
  }
}
