/**
 * Gets credentials from a running bench stack: a browser session (the real
 * login flow over HTTP) and a client-credentials access token.
 */
import { DEV_CLIENTS, DEV_USERS } from '../dev/provider.ts';
import { CookieJar, signInAtProvider } from '../test/support/provider-login.ts';

/** Logs in through the edge and returns the session cookie header value. */
export async function signInThroughEdge(edge: string, login = DEV_USERS[0]!.national_id): Promise<string> {
  const jar = new CookieJar();
  const start = await fetch(`${edge}/auth/login`, { redirect: 'manual' });
  jar.store(start);
  const { callbackUrl } = await signInAtProvider(start.headers.get('location')!, { login });
  const callback = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie: jar.header() } });
  jar.store(callback);
  const session = jar.get('__Host-kenni-session');
  if (callback.status !== 302 || !session) throw new Error(`login failed: ${callback.status} ${await callback.text()}`);
  return `__Host-kenni-session=${session}`;
}

/** A client-credentials access token (JWT) from the local provider, RFC 6749 §2.3.1 Basic auth. */
export async function clientCredentialsToken(issuer: string, scope: string): Promise<string> {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
    token_endpoint: string;
  };
  const { client_id, client_secret } = DEV_CLIENTS.m2m;
  const form = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${form(client_id)}:${form(client_secret!)}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`client credentials failed: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
