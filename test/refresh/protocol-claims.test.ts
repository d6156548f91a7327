/**
 * The session keeps the ID token's `auth_time`, `acr`, `amr` and `sid` (issue
 * 10, item 3) as record fields of their own; a refresh whose new ID token
 * carries them updates them, one without an ID token keeps them, and a
 * refreshed ID token with a malformed `actor` does not replace the checked identity.
 */
import { describe, expect, it } from 'vitest';
import { createTestEdge } from '../support/edge.ts';
import { TEST_SUBJECT } from '../support/token-factory.ts';
import {
  createRefreshProvider,
  logIn,
  readRecord,
  refreshReply,
  SAME_ORIGIN_POST,
  scriptedBindings,
} from './helpers.ts';

const ACTOR = { sub: 'kenni-person-1', national_id: '0101302989', name: 'Þórður Ævarsson' };
const AT_LOGIN = { auth_time: 1_800_000_000, acr: 'urn:kenni:loa:substantial', amr: ['audkenni-app'], sid: 'sid-1' };

describe('auth_time, acr, amr and sid in the session record', () => {
  it('a refresh with a new ID token updates them; the identity claims never hold them', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { claims: AT_LOGIN });
    expect(await readRecord(logged.kvKey)).toMatchObject(AT_LOGIN);

    const stepUp = { auth_time: 1_800_000_600, acr: 'urn:kenni:loa:high', amr: ['sim'], sid: 'sid-2' };
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', claims: { sub: TEST_SUBJECT, ...stepUp } }),
    );
    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    const record = (await readRecord(logged.kvKey))!;
    expect(record).toMatchObject(stepUp);
    for (const name of Object.keys(stepUp)) expect(record.claims).not.toHaveProperty(name);
    expect(((await (await edge.fetch('/auth/me')).json()) as { auth_time: number }).auth_time).toBe(1_800_000_600);
  });

  it('a refresh without an ID token keeps them', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { claims: AT_LOGIN });
    await provider.serveToken(await refreshReply(provider, { access_token: 'AT2', id_token: false }));

    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    expect(await readRecord(logged.kvKey)).toMatchObject(AT_LOGIN);
  });

  it('a refreshed ID token with a malformed actor leaves the checked identity as it was', async () => {
    const provider = await createRefreshProvider();
    const edge = createTestEdge(scriptedBindings(provider));
    const logged = await logIn(edge, provider, { claims: { actor: ACTOR, delegation_type: 'c:procurator' } });
    await provider.serveToken(
      await refreshReply(provider, { access_token: 'AT2', claims: { sub: TEST_SUBJECT, actor: ['x'], auth_time: 1 } }),
    );

    expect((await edge.fetch('/auth/refresh', SAME_ORIGIN_POST)).status).toBe(200);

    const record = (await readRecord(logged.kvKey))!;
    expect(record.claims.actor).toEqual(ACTOR);
    expect(record.auth_time).not.toBe(1);
    const me = (await (await edge.fetch('/auth/me')).json()) as Record<string, unknown>;
    expect(me).toMatchObject({ actor: ACTOR, delegation_type: 'c:procurator' });
  });
});
