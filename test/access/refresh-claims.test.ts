/**
 * Access rules follow the claims a refresh brings (issue 11): the refreshed ID
 * token's identity claims replace the session's, so a delegation that ended at
 * the provider stops passing (and one that began starts passing), also on the
 * very request whose API call refreshed the tokens.
 */
import { describe, expect, it } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { TEST_SUBJECT } from '../support/token-factory.ts';
import { expectErrorPage, expectJsonError, identityHeadersOf } from '../gateway/helpers.ts';
import {
  API_FETCH,
  createRefreshProvider,
  logIn,
  NAVIGATION,
  originRequests,
  readRecord,
  refreshGrants,
  refreshReply,
  SAME_ORIGIN_POST,
  scriptedBindings,
} from '../refresh/helpers.ts';
import type { ScriptedProvider } from '../support/scripted-provider.ts';

const ACTOR = { sub: 'kenni-person-1', national_id: '0101302989', name: 'Þórður Ævarsson' };
const DELEGATED = { actor: ACTOR, delegation_type: 'c:procurator' };
/** `/account` and `/api/x` only for someone acting as a company's procurator. */
const PROCURATORS_ONLY = [
  { path: '/account', allow: [{ delegation: ['c:procurator'] }] },
  { path: '/api/x', api: true, allow: [{ delegation: ['c:procurator'] }] },
];
/** `/account` refused to anyone acting for someone else. */
const NOT_DELEGATED = [{ path: '/account', deny: [{ delegation: 'any' }] }];

async function edgeWith(routes: unknown[]) {
  const provider = await createRefreshProvider();
  const edge = createTestEdge(scriptedBindings(provider, { ROUTES: JSON.stringify(routes) }));
  return { provider, edge };
}

/** Scripts the next refresh: a new access token and an ID token with exactly these identity claims. */
async function refreshWithClaims(provider: ScriptedProvider, claims: Record<string, unknown>): Promise<void> {
  await provider.serveToken(
    await refreshReply(provider, { access_token: 'AT2', expires_in: 3600, claims: { sub: TEST_SUBJECT, ...claims } }),
  );
}

describe('rules after a refresh decide on the refreshed claims', () => {
  it('a delegation the refreshed ID token no longer carries: allowed before, 403 after', async () => {
    const { provider, edge } = await edgeWith(PROCURATORS_ONLY);
    const logged = await logIn(edge, provider, { claims: DELEGATED });
    expect((await edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);

    await refreshWithClaims(provider, {});
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    await expectErrorPage(await edge.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');
    const record = (await readRecord(logged.kvKey))!;
    expect(record.claims).not.toHaveProperty('actor');
    expect(record.claims).not.toHaveProperty('delegation_type');
  });

  it('the reverse: delegated at login (denied), signed in as oneself after the refresh (allowed)', async () => {
    const { provider, edge } = await edgeWith(NOT_DELEGATED);
    await logIn(edge, provider, { claims: DELEGATED });
    await expectErrorPage(await edge.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');

    await refreshWithClaims(provider, {});
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    expect((await edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);
  });

  it('a delegation type that changes at refresh: refused before (c:viewer), allowed after (c:procurator)', async () => {
    const { provider, edge } = await edgeWith(PROCURATORS_ONLY);
    await logIn(edge, provider, { claims: { actor: ACTOR, delegation_type: 'c:viewer' } });
    await expectErrorPage(await edge.fetch('/account', { headers: NAVIGATION }), 403, 'access_denied');

    await refreshWithClaims(provider, DELEGATED);
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    expect((await edge.fetch('/account', { headers: NAVIGATION })).status).toBe(200);
  });

  it('the API request whose session token is refreshed is decided on the refreshed claims (403, origin never called)', async () => {
    const { provider, edge } = await edgeWith(PROCURATORS_ONLY);
    // 30 s left: the next API request refreshes first (REFRESH_BEFORE_EXPIRY).
    await logIn(edge, provider, { claims: DELEGATED, expiresIn: 30 });
    await refreshWithClaims(provider, {});

    await expectJsonError(await edge.fetch('/api/x', { headers: API_FETCH }), 403, 'access_denied');

    expect(await refreshGrants(provider)).toHaveLength(1);
    expect(await originRequests(provider)).toEqual([]);
  });

  it('an allowed API request that refreshes forwards the refreshed identity, not the one from before', async () => {
    const { provider, edge } = await edgeWith(PROCURATORS_ONLY);
    await logIn(edge, provider, { claims: { ...DELEGATED, name: 'Old Company ehf.' }, expiresIn: 30 });
    await refreshWithClaims(provider, { ...DELEGATED, name: 'New Company ehf.' });

    const response = await edge.fetch('/api/x', { headers: API_FETCH });

    expect(response.status).toBe(200);
    const [forwarded] = await originRequests(provider);
    expect(forwarded!.headers.authorization).toBe('Bearer AT2');
    expect(identityHeadersOf(forwarded!)['x-kenni-name']).toBe(encodeURIComponent('New Company ehf.'));
  });
});
