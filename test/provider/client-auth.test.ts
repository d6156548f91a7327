/**
 * `clientSecretBasic` replaced oauth4webapi's `ClientSecretBasic` in the
 * bundle: for any client id and secret it must set the same `Authorization`
 * header (id and secret form-encoded, then base64; RFC 6749 §2.3.1).
 */
import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { clientSecretBasic } from '../../src/provider/client-auth.ts';

const SERVER: oauth.AuthorizationServer = { issuer: 'https://idp.example/team' };

function header(auth: oauth.ClientAuth, clientId: string): string | null {
  const headers = new Headers();
  void auth(SERVER, { client_id: clientId }, new URLSearchParams(), headers);
  return headers.get('authorization');
}

describe('clientSecretBasic', () => {
  it.each([
    ['@dev-team.is/web', 'dev-web-secret-change-me'],
    ["a b+c~d*e'f(g)h!i_j.k-l", 'p%q&r=s:t/u?v#w'],
    ['Þórður@fyrirtæki.is', 'lykilorð með bilum 🔑'],
  ])('sends what oauth4webapi sends for %s', (clientId, secret) => {
    expect(header(clientSecretBasic(secret), clientId)).toBe(header(oauth.ClientSecretBasic(secret), clientId));
  });

  it('form-encodes before base64: "-", "." and "@" encoded, a space as "+"', () => {
    expect(header(clientSecretBasic('a b-c'), '@x.is/web')).toBe(`Basic ${btoa('%40x%2Eis%2Fweb:a+b%2Dc')}`);
  });
});
