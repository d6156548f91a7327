/**
 * The dev provider's session control, in Node (a recording HTTP server stands
 * in for the edge, and the provider's clock is faked): back-channel logout
 * tokens reach the web client's `backchannel_logout_uri` when the provider
 * session ends, and `max_age` forces a new login once the session is older.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startKenniProvider, type KenniProvider } from '../../dev/provider.ts';
import {
  authorize,
  loadDiscovery,
  POST_LOGOUT_REDIRECT_URI,
  redeemCode,
  signInForTokens,
  SPA_CLIENT_ID,
  verifyProviderJwt,
  WEB_CLIENT,
  type ProviderDiscovery,
} from '../support/provider-client.ts';
import { endSessionAtProvider, type CookieJar } from '../support/provider-login.ts';

const THORDUR = { sub: 'dev-user-thordur', national_id: '0101302989' } as const;
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

interface RecordedRequest {
  method: string;
  path: string;
  contentType: string;
  body: URLSearchParams;
}

/** A tiny HTTP server on 127.0.0.1 that answers 200 and remembers every request. */
async function startRecorder(): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server = createServer((req, res) => {
    read(req).then(
      (body) => {
        requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          body: new URLSearchParams(body),
        });
        res.setHeader('cache-control', 'no-store');
        res.end();
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/backchannel-logout`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let recorder: Awaited<ReturnType<typeof startRecorder>>;
let provider: KenniProvider;
let discovery: ProviderDiscovery;

beforeAll(async () => {
  recorder = await startRecorder();
  provider = await startKenniProvider({ port: 0, backchannelLogoutUri: recorder.url });
  discovery = await loadDiscovery(provider.issuer);
});

afterAll(async () => {
  await provider?.close();
  await recorder?.close();
});

afterEach(() => {
  vi.useRealTimers();
  recorder.requests.length = 0;
});

/** Signs out at the provider as `clientId` (Kenni wants client_id) with the browser's provider cookies. */
async function endProviderSession(clientId: string, jar: CookieJar): Promise<string> {
  const url = new URL(discovery.end_session_endpoint);
  url.search = new URLSearchParams({
    client_id: clientId,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
  }).toString();
  return endSessionAtProvider(url.href, jar);
}

describe('back-channel logout', () => {
  it('registers the edge’s /auth/backchannel-logout under npm run dev by default', async () => {
    const defaults = await startKenniProvider({ port: 0 });
    try {
      expect(defaults.backchannelLogoutUri).toBe('http://localhost:8787/auth/backchannel-logout');
      const advertised = await loadDiscovery(defaults.issuer);
      expect(advertised.backchannel_logout_supported).toBe(true);
      expect(advertised.backchannel_logout_session_supported).toBe(true);
    } finally {
      await defaults.close();
    }
    expect(provider.backchannelLogoutUri).toBe(recorder.url);
  });

  it('POSTs a logout token with events, sid, sub, iss and aud when the user signs out of another app of the team', async () => {
    const web = await signInForTokens(discovery, {}, { login: THORDUR.national_id });
    const idToken = await verifyProviderJwt(discovery, web.tokens.id_token, { audience: WEB_CLIENT.client_id });
    // The same browser signs in to the SPA (single sign-on), then signs out there.
    const spa = await authorize(
      discovery,
      { client_id: SPA_CLIENT_ID },
      { login: THORDUR.national_id, providerCookies: web.signIn.providerCookies },
    );
    expect(spa.pages).not.toContain('login');
    expect(recorder.requests).toEqual([]);

    expect(await endProviderSession(SPA_CLIENT_ID, web.signIn.providerCookies)).toBe(POST_LOGOUT_REDIRECT_URI);

    expect(recorder.requests).toHaveLength(1);
    const [request] = recorder.requests;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/auth/backchannel-logout',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect([...request!.body.keys()]).toEqual(['logout_token']);
    const logoutToken = await verifyProviderJwt(discovery, request!.body.get('logout_token')!, {
      audience: WEB_CLIENT.client_id,
      typ: 'logout+jwt',
    });
    expect(logoutToken).toMatchObject({
      iss: provider.issuer,
      aud: WEB_CLIENT.client_id,
      sub: THORDUR.sub,
      sid: idToken.sid,
    });
    expect(logoutToken.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
    expect(logoutToken.jti).toBeTypeOf('string');
    expect(logoutToken.iat).toBeTypeOf('number');
    expect(logoutToken).not.toHaveProperty('nonce');
  });

  it('names the represented party as sub after a delegated sign-in', async () => {
    const web = await signInForTokens(
      discovery,
      { prompt: 'delegation' },
      { login: THORDUR.national_id, delegation: 'company' },
    );
    const idToken = await verifyProviderJwt(discovery, web.tokens.id_token, { audience: WEB_CLIENT.client_id });

    await endProviderSession(WEB_CLIENT.client_id, web.signIn.providerCookies);

    expect(recorder.requests).toHaveLength(1);
    const logoutToken = await verifyProviderJwt(discovery, recorder.requests[0]!.body.get('logout_token')!, {
      audience: WEB_CLIENT.client_id,
      typ: 'logout+jwt',
    });
    expect(logoutToken).toMatchObject({ sub: 'dev-party-aevarsson-ehf', sid: idToken.sid });
  });

  it('sends nothing for a browser that never signed in to the web client', async () => {
    const spa = await authorize(discovery, { client_id: SPA_CLIENT_ID }, { login: THORDUR.national_id });
    expect(spa.callback.get('code')).toBeTypeOf('string');
    await endProviderSession(SPA_CLIENT_ID, spa.providerCookies);
    expect(recorder.requests).toEqual([]);
  });
});

describe('max_age', () => {
  it('re-authenticates when the provider session is older than max_age, and only then', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const first = await signInForTokens(discovery, {}, { login: THORDUR.national_id });
    const { auth_time: firstAuthTime } = await verifyProviderJwt(discovery, first.tokens.id_token, {
      audience: WEB_CLIENT.client_id,
    });
    const jar = first.signIn.providerCookies;

    vi.setSystemTime(Date.now() + 10 * 60_000);

    // Ten minutes old: max_age of an hour is satisfied without a login page, auth_time unchanged.
    const young = await authorize(discovery, { max_age: 3600 }, { login: THORDUR.national_id, providerCookies: jar });
    expect(young.pages).toEqual([]);
    const youngIdToken = await verifyProviderJwt(discovery, (await redeemCode(discovery, young)).id_token, {
      audience: WEB_CLIENT.client_id,
    });
    expect(youngIdToken.auth_time).toBe(firstAuthTime);

    // max_age of five minutes: the login page again, and a new auth_time.
    const old = await authorize(discovery, { max_age: 300 }, { login: THORDUR.national_id, providerCookies: jar });
    expect(old.pages).toEqual(['login']);
    const oldIdToken = await verifyProviderJwt(discovery, (await redeemCode(discovery, old)).id_token, {
      audience: WEB_CLIENT.client_id,
    });
    expect(Number(oldIdToken.auth_time)).toBeGreaterThanOrEqual(Number(firstAuthTime) + 600);
  });
});
