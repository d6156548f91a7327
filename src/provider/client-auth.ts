/**
 * Client authentication at the provider's token, introspection and revocation
 * endpoints.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
import type * as oauth from 'oauth4webapi';

/**
 * HTTP Basic client authentication with id and secret form-encoded before
 * base64 (Kenni ids contain "@" and "/"), byte for byte what oauth4webapi's
 * `ClientSecretBasic` sends, in fewer bytes of bundle.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function clientSecretBasic(clientSecret: string): oauth.ClientAuth {
  return (_server, client, _body, headers) => {
    headers.set('authorization', `Basic ${btoa(`${formEncode(client.client_id)}:${formEncode(clientSecret)}`)}`);
  };
}

/** `application/x-www-form-urlencoded` encoding: also the characters encodeURIComponent leaves, and "+" for a space. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (match) =>
    match === '%20' ? '+' : `%${match.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
