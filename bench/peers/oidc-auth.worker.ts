/**
 * Peer: `@hono/oidc-auth` on the session scenario, against the local provider.
 * What it needed: `OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` (the
 * web client's), `OIDC_AUTH_SECRET` (32+ characters, signs its session
 * cookie), `OIDC_REDIRECT_URI` `/callback` registered at the provider, and
 * `OIDC_SCOPES` `openid` (by default it asks for every scope the provider
 * lists). Its session is the `oidc-auth` cookie: an HS256 JWT holding `sub`,
 * `email`, the refresh token and two expiry times; no server-side record.
 * `/public/*` is the no-auth baseline on this same worker.
 */
import { Hono } from 'hono';
import { oidcAuthMiddleware, processOAuthCallback } from '@hono/oidc-auth';
import { toOrigin, type PeerBindings } from './shared.ts';

const app = new Hono<{ Bindings: PeerBindings }>();
app.all('/public/*', toOrigin);
app.get('/callback', (c) => processOAuthCallback(c));
app.use('/app/*', oidcAuthMiddleware());
app.all('/app/*', toOrigin);

export default app;
