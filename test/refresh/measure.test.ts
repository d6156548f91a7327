/**
 * The closing figure of issue #5: how many token requests the provider sees
 * for an active session. With fake time (1 s per request) it is deterministic:
 * a 300 s access token refreshed 60 s before expiry lasts 240 s of use.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { report } from '../support/log-capture.ts';
import {
  API_FETCH,
  createRefreshProvider,
  logIn,
  originRequests,
  refreshGrants,
  refreshReply,
  scriptedBindings,
  startClock,
} from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('provider load of an active session', () => {
  it('measures token requests per 1,000 API requests of one session (one per second, 300 s tokens)', async () => {
    const REQUESTS = 1000;
    const TOKEN_LIFETIME = 300;
    const WINDOW = 60;
    const clock = startClock();
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    await logIn(edge, provider, { accessToken: 'AT1', refreshToken: 'R1', expiresIn: TOKEN_LIFETIME });
    await provider.serveToken(
      await Promise.all(
        Array.from({ length: 8 }, (_, index) =>
          refreshReply(provider, {
            access_token: `AT${index + 2}`,
            refresh_token: `R${index + 2}`,
            expires_in: TOKEN_LIFETIME,
          }),
        ),
      ),
    );

    const providerRequests = async () => provider.requests((request) => !request.path.startsWith('/origin/'));
    const beforeLoop = (await providerRequests()).length;

    for (let second = 1; second <= REQUESTS; second++) {
      clock.at(second);
      const response = await edge.fetch('/api/x', { headers: API_FETCH });
      expect(response.status).toBe(200);
    }

    const grants = await refreshGrants(provider);
    // Besides the refresh grants, only the JWKS is fetched again when its 600 s cache lapses (to verify a refreshed ID token).
    const others = (await providerRequests()).slice(beforeLoop).filter((request) => request.path !== '/oidc/token');
    expect(others.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /oidc/jwks']);
    // A token is used for TOKEN_LIFETIME - WINDOW seconds, then replaced at the first request in the window.
    const expected = Math.floor(REQUESTS / (TOKEN_LIFETIME - WINDOW));
    report(
      `measured: ${grants.length} token endpoint requests (plus ${others.length} JWKS refetch) per ${REQUESTS} API requests of one active session ` +
        `(1 request/s, expires_in ${TOKEN_LIFETIME}, refresh ${WINDOW} s before expiry)`,
    );
    expect(grants).toHaveLength(expected);
    expect(grants.map((grant) => grant.form?.refresh_token)).toEqual(['R1', 'R2', 'R3', 'R4']);
    const forwarded = await originRequests(provider);
    expect(forwarded).toHaveLength(REQUESTS);
    expect(forwarded[239]!.headers.authorization).toBe('Bearer AT2'); // t = 240 s: 60 s left, refreshed first
    expect(forwarded[238]!.headers.authorization).toBe('Bearer AT1');
  }, 120_000);
});
