/**
 * The shared vocabulary of the tests: the edge's public origin, the request
 * headers a browser sends for each kind of request (Fetch Metadata, W3C
 * "Fetch Metadata Request Headers"), and the dev provider's test user.
 */

/** The public origin the tests use for the edge (registered at the local provider). */
export const EDGE_ORIGIN = 'https://edge.test';

/** An origin of another site, for cross-site requests. */
export const EVIL_ORIGIN = 'https://evil.example';

/** A top-level page navigation from the edge's own pages. */
export const NAVIGATION = {
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'sec-fetch-site': 'same-origin',
  accept: 'text/html,application/xhtml+xml',
} as const;

/** A top-level navigation that came from another site (a link or redirect there, e.g. the provider's callback). */
export const CROSS_SITE_NAVIGATION = { ...NAVIGATION, 'sec-fetch-site': 'cross-site' } as const;

/** A same-origin `fetch()` or XHR from the edge's own pages, asking for JSON. */
export const SAME_ORIGIN_FETCH = {
  'sec-fetch-mode': 'cors',
  'sec-fetch-dest': 'empty',
  'sec-fetch-site': 'same-origin',
  accept: 'application/json',
} as const;

/** A `fetch()` from a page of another site (the cross-site request the edge refuses on state changes). */
export const CROSS_SITE_FETCH = { ...SAME_ORIGIN_FETCH, 'sec-fetch-site': 'cross-site', origin: EVIL_ORIGIN } as const;

/** A same-origin form or `fetch()` POST from the edge's own pages: Sec-Fetch-Site and a matching Origin. */
export const SAME_ORIGIN_POST_HEADERS = { 'sec-fetch-site': 'same-origin', origin: EDGE_ORIGIN } as const;

/** The edge's session cookie (a `__Host-` cookie: Secure, Path=/, no Domain). */
export const SESSION_COOKIE = '__Host-kenni-session';

/** Þórður, the dev provider's first test user (dev/provider/people.ts, which cannot be imported into workerd). */
export const THORDUR = { sub: 'dev-user-thordur', national_id: '0101302989', name: 'Þórður Ævarsson' } as const;

/** Guðrún, the dev provider's second test user (dev/provider/people.ts). */
export const GUDRUN = { sub: 'dev-user-gudrun', national_id: '1203894599', name: 'Guðrún Ólafsdóttir' } as const;
