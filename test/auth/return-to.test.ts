/**
 * The `return_to` login parameter (issue #2): only a same-origin relative path
 * survives; every other value, however it is disguised, falls back to `/`.
 */
import { describe, expect, it } from 'vitest';
import { sanitizeReturnTo } from '../../src/session/return-to.ts';
import { createTestEdge } from '../support/edge.ts';
import { createLoginProvider, fileSigningKey, logInAt } from '../support/scripted-login.ts';

/** Values that must never become the post-login redirect. */
const HOSTILE: Array<[label: string, value: string]> = [
  ['protocol-relative', '//evil.com'],
  ['protocol-relative with path', '//evil.com/dashboard'],
  ['triple slash', '///evil.com'],
  ['many slashes', '////evil.com'],
  ['slash backslash', '/\\evil.com'],
  ['backslash slash', '\\/evil.com'],
  ['double backslash', '\\\\evil.com'],
  ['slash double backslash', '/\\\\evil.com'],
  ['absolute https', 'https://evil.com'],
  ['absolute http', 'http://evil.com/'],
  ['scheme without slashes', 'https:evil.com'],
  ['scheme with one slash', 'http:/evil.com'],
  ['upper-case scheme', 'HTTPS://evil.com'],
  ['javascript', 'javascript:alert(1)'],
  ['javascript with a tab', 'java\tscript:alert(1)'],
  ['javascript after a slash-less path', 'javascript://%0aalert(1)'],
  ['data URL', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='],
  ['vbscript', 'vbscript:msgbox(1)'],
  ['bare host', 'evil.com'],
  ['leading space', ' /dashboard'],
  ['encoded double slash without leading slash', '%2F%2Fevil.com'],
  ['encoded second slash', '/%2Fevil.com'],
  ['encoded double slash after slash', '/%2F%2Fevil.com'],
  ['lower-case encoded double slash', '/%2f%2fevil.com'],
  ['double-encoded double slash', '/%252F%252Fevil.com'],
  ['triple-encoded slash', '/%25252Fevil.com'],
  ['encoded backslash', '/%5Cevil.com'],
  ['encoded double backslash', '/%5C%5Cevil.com'],
  ['encoded backslash without leading slash', '%5Cevil.com'],
  ['dot segment to protocol-relative', '/.//evil.com'],
  ['encoded dot segment to protocol-relative', '/%2e//evil.com'],
  ['double dot to protocol-relative', '/..//evil.com'],
  ['path then parent to protocol-relative', '/a/..//evil.com'],
  ['encoded parents to protocol-relative', '/%2e%2e/%2f/evil.com'],
  ['tab inside', '/\t/evil.com'],
  ['newline inside', '/\n/evil.com'],
  ['carriage return inside', '/\r/evil.com'],
  ['NUL inside', '/\u0000/evil.com'],
  ['CRLF header injection', '/%0d%0aSet-Cookie:%20a=b'],
  ['raw CRLF header injection', '/\r\nSet-Cookie: a=b'],
  ['encoded tab', '/%09/evil.com'],
  ['encoded newline', '/%0a/evil.com'],
  ['encoded NUL', '/%00'],
  ['DEL', '/\u007f/evil.com'],
  ['C1 control (NEL)', '/\u0085/evil.com'],
  ['unicode line separator', '/\u2028/evil.com'],
  ['unicode paragraph separator', '/\u2029/evil.com'],
  ['encoded unicode line separator', '/%E2%80%A8/evil.com'],
  ['malformed percent encoding', '/%E0%A4%A'],
  ['lone percent', '/%'],
  ['very long', `/${'a'.repeat(5000)}`],
  ['empty', ''],
  ['back into the login route', '/auth/login?return_to=//evil.com'],
  ['back into the callback', '/auth/callback?code=x&state=y'],
  ['auth route itself', '/auth'],
  ['auth route with a query', '/auth?x=1'],
  ['percent-encoded auth route (the router decodes it)', '/%61uth/logout'],
  ['auth route reached through dot segments', '/x/../auth/login'],
];

/** Values that are kept exactly as they are. */
const GOOD = [
  '/',
  '/dashboard',
  '/a?b=c',
  '/a/b/c?x=1&y=2',
  '/%C3%9E%C3%B3r',
  '/search?q=%2F',
  '/search?q=%2F%2Fevil.com',
  '/path?next=https://evil.com',
  '/@user',
  '/authors',
  '/auth-help',
  '/api/orders?status=open',
];

describe('sanitizeReturnTo', () => {
  it('has a corpus of at least 30 hostile values', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  });

  it.each(HOSTILE)('falls back to / for %s', (_label, value) => {
    expect(sanitizeReturnTo(value)).toBe('/');
  });

  it.each(GOOD)('keeps %s as it is', (value) => {
    expect(sanitizeReturnTo(value)).toBe(value);
  });

  it('falls back to / for a missing value', () => {
    expect(sanitizeReturnTo(null)).toBe('/');
    expect(sanitizeReturnTo(undefined)).toBe('/');
  });

  it('never returns anything a browser would resolve to another origin', () => {
    for (const [, value] of HOSTILE) {
      const result = sanitizeReturnTo(value);
      expect(new URL(result, 'https://edge.test').origin).toBe('https://edge.test');
      expect(result.startsWith('//')).toBe(false);
      expect(result).not.toMatch(/[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    }
  });
});

describe('return_to end to end', () => {
  it.each([
    ['//evil.com', '/'],
    ['/.//evil.com', '/'],
    ['https://evil.com/x', '/'],
    ['/%5Cevil.com', '/'],
    ['/dashboard?tab=%C3%BE', '/dashboard?tab=%C3%BE'],
  ])('redirects after a successful callback from return_to=%j to %j', async (returnTo, expected) => {
    const { provider, key } = await createLoginProvider({ key: await fileSigningKey() });
    const edge = createTestEdge({ KENNI_ISSUER: provider.issuer });

    const { authorize, callback } = await logInAt(edge, provider, key, {
      loginPath: `/auth/login?return_to=${encodeURIComponent(returnTo)}`,
      token: { refresh_token: undefined },
    });

    // The provider never sees return_to.
    expect(authorize.search).not.toContain('evil');
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(expected);
    expect(callback.headers.getSetCookie().some((cookie) => cookie.startsWith('__Host-kenni-session='))).toBe(true);
  });
});
