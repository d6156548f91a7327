/**
 * A hostile provider hands the edge bad ID tokens. Every one must end the login
 * with a 400 error page (`id_token_invalid`), no session cookie, no session in
 * KV and `/auth/me` 401. Each group also has the matching good token accepted,
 * so a refusal proves the check and not a broken set-up.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateTestKey, hs256WithPublicKey, signJwt, unsecuredJwt } from '../support/token-factory.ts';
import {
  CLIENT_ID,
  callbackWithIdToken,
  expectLoginRefused,
  expectLoginSucceeded,
  idTokenClaims,
  setUpHostileProvider,
  startLogin,
  watchLogs,
  type LogWatch,
} from './hostile-provider-helpers.ts';

let logs: LogWatch;
beforeEach(() => {
  logs = watchLogs();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Runs a login whose token endpoint returns `makeIdToken(...)` and asserts it was refused as `id_token_invalid`. */
async function expectIdTokenRefused(
  makeIdToken: (
    setup: Awaited<ReturnType<typeof setUpHostileProvider>>,
    login: Awaited<ReturnType<typeof startLogin>>,
  ) => Promise<string> | string,
  discovery?: Record<string, unknown>,
) {
  const setup = await setUpHostileProvider({ discovery });
  const login = await startLogin(setup.edge);
  const idToken = await makeIdToken(setup, login);
  const response = await callbackWithIdToken(setup, login, idToken);
  await expectLoginRefused(setup, response, { status: 400, code: 'id_token_invalid', login, logs });
  return setup;
}

describe('ID token from a hostile provider', () => {
  it('accepts a well-formed ID token (control for the refusals below)', async () => {
    const setup = await setUpHostileProvider();
    const login = await startLogin(setup.edge);
    const response = await callbackWithIdToken(setup, login, await signJwt(setup.key, idTokenClaims(setup, login)));
    await expectLoginSucceeded(setup, response);
    expect(logs.events().map((event) => event.event)).toEqual(['login_started', 'login_succeeded']);
  });

  describe('issuer and audience', () => {
    it('rejects an ID token whose iss names another issuer', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { iss: 'https://idp.kenni.is/other-team.is' })),
      );
    });

    it('rejects an ID token whose iss differs from the issuer only by a trailing slash', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { iss: `${setup.provider.issuer}/` })),
      );
    });

    it('rejects an ID token whose aud is another client', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { aud: '@dev-team.is/other' })),
      );
    });

    it('rejects an ID token with several audiences and no azp', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { aud: [CLIENT_ID, '@evil.is/app'] })),
      );
    });

    it('rejects an ID token with several audiences whose azp is another client', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { aud: [CLIENT_ID, '@evil.is/app'], azp: '@evil.is/app' })),
      );
    });

    it('accepts an ID token with several audiences when azp names this client', async () => {
      const setup = await setUpHostileProvider();
      const login = await startLogin(setup.edge);
      const idToken = await signJwt(
        setup.key,
        idTokenClaims(setup, login, { aud: [CLIENT_ID, `${CLIENT_ID}-api`], azp: CLIENT_ID }),
      );
      await expectLoginSucceeded(setup, await callbackWithIdToken(setup, login, idToken));
    });
  });

  describe('nonce and subject', () => {
    it('rejects an ID token without a nonce', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { nonce: undefined })),
      );
    });

    it('rejects an ID token whose nonce differs', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { nonce: `${login.nonce}x` })),
      );
    });

    it('rejects an ID token carrying the nonce of another login in the same browser', async () => {
      const setup = await setUpHostileProvider();
      const other = await startLogin(setup.edge);
      const login = await startLogin(setup.edge);
      const response = await callbackWithIdToken(
        setup,
        login,
        await signJwt(setup.key, idTokenClaims(setup, login, { nonce: other.nonce })),
      );
      await expectLoginRefused(setup, response, { status: 400, code: 'id_token_invalid', login, logs });
      // The other login is still pending and keeps its own transaction cookie.
      expect(`${other.transactionCookieName}=${setup.edge.jar.get(other.transactionCookieName)}`).toBe(
        other.transactionCookie,
      );
    });

    it('rejects an ID token without sub', async () => {
      await expectIdTokenRefused(async (setup, login) => {
        const claims = idTokenClaims(setup, login);
        delete claims.sub;
        return signJwt(setup.key, claims);
      });
    });

    it('rejects an ID token whose sub is not a string', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, { ...idTokenClaims(setup, login), sub: 1234 }),
      );
    });
  });

  describe('signature and algorithm', () => {
    it('rejects an ID token signed by a key outside the JWKS that reuses a published kid', async () => {
      await expectIdTokenRefused(async (setup, login) => {
        const impostor = await generateTestKey('RS256', setup.key.kid);
        return signJwt(impostor, idTokenClaims(setup, login));
      });
    });

    it('rejects an ID token whose payload is not JSON', async () => {
      await expectIdTokenRefused(async (setup) => {
        const valid = await signJwt(setup.key, { sub: setup.subject });
        const [header, , signature] = valid.split('.');
        return `${header}.${btoa('not json').replace(/=+$/, '')}.${signature}`;
      });
    });

    it('rejects an unsecured ID token (alg none)', async () => {
      await expectIdTokenRefused((setup, login) => unsecuredJwt(idTokenClaims(setup, login), { kid: setup.key.kid }));
    });

    it('rejects an unsecured ID token even when discovery advertises alg none', async () => {
      await expectIdTokenRefused((setup, login) => unsecuredJwt(idTokenClaims(setup, login), { kid: setup.key.kid }), {
        id_token_signing_alg_values_supported: ['RS256', 'none'],
      });
    });

    it('rejects an HS256 ID token whose secret is the public key (algorithm confusion)', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        hs256WithPublicKey(setup.key.publicJwk, idTokenClaims(setup, login)),
      );
    });

    it('rejects an HS256 ID token keyed with the public key PEM even when discovery advertises HS256', async () => {
      await expectIdTokenRefused(
        async (setup, login) => hs256WithPublicKey(setup.key.publicJwk, idTokenClaims(setup, login), { secret: 'pem' }),
        {
          id_token_signing_alg_values_supported: ['HS256', 'RS256'],
        },
      );
    });

    it.each([
      ['an embedded jwk', 'jwk'],
      ['a jku', 'jku'],
      ['both jwk and jku', 'both'],
    ] as const)(
      'rejects an ID token signed by a foreign key named in %s, without fetching it',
      async (_label, which) => {
        let attackerJwksUrl = '';
        const setup = await expectIdTokenRefused(async (setup, login) => {
          const foreign = await generateTestKey('RS256');
          attackerJwksUrl = setup.provider.url('/attacker/jwks.json');
          await setup.provider.route('GET', '/attacker/jwks.json', { json: { keys: [foreign.publicJwk] } });
          const header: Record<string, unknown> = {};
          if (which !== 'jku') header.jwk = foreign.publicJwk;
          if (which !== 'jwk') header.jku = attackerJwksUrl;
          return signJwt(foreign, idTokenClaims(setup, login), header);
        });
        expect(await setup.provider.requests({ path: '/attacker/jwks.json' })).toEqual([]);
        expect(attackerJwksUrl).not.toBe('');
      },
    );
  });

  describe('time', () => {
    const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
    const nowSeconds = NOW / 1000;
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(NOW);
    });

    it('rejects an ID token that expired beyond the 30 s clock tolerance', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(
          setup.key,
          idTokenClaims(setup, login, { iat: nowSeconds - 3631, auth_time: nowSeconds - 3631, exp: nowSeconds - 31 }),
        ),
      );
    });

    it('accepts an ID token that expired within the 30 s clock tolerance', async () => {
      const setup = await setUpHostileProvider();
      const login = await startLogin(setup.edge);
      const idToken = await signJwt(
        setup.key,
        idTokenClaims(setup, login, { iat: nowSeconds - 3629, auth_time: nowSeconds - 3629, exp: nowSeconds - 29 }),
      );
      await expectLoginSucceeded(setup, await callbackWithIdToken(setup, login, idToken));
    });

    it('rejects an ID token issued far in the future', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { iat: nowSeconds + 86_400, exp: nowSeconds + 90_000 })),
      );
    });

    it('rejects an ID token issued just beyond the clock tolerance in the future', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { iat: nowSeconds + 31 })),
      );
    });

    it('accepts an ID token issued within the clock tolerance in the future', async () => {
      const setup = await setUpHostileProvider();
      const login = await startLogin(setup.edge);
      const idToken = await signJwt(setup.key, idTokenClaims(setup, login, { iat: nowSeconds + 29 }));
      await expectLoginSucceeded(setup, await callbackWithIdToken(setup, login, idToken));
    });

    it('rejects an ID token that is not valid yet (nbf beyond the tolerance)', async () => {
      await expectIdTokenRefused(async (setup, login) =>
        signJwt(setup.key, idTokenClaims(setup, login, { nbf: nowSeconds + 120 })),
      );
    });
  });
});
