/**
 * Step 2 of the request pipeline: may this principal use this route? Today
 * every authenticated principal may; the access-rules issue fills the route's
 * `rules` and enforces them here, in one place for the gateway and the library.
 */
import type { Route } from '../gateway/route.ts';
import type { Principal } from './principal.ts';

/**
 * Admits `principal` to `route` or throws an `AppError` (403). Admits everyone
 * today: `route.rules` is empty.
 */
export function authorize(principal: Principal, route: Route): void {
  void principal;
  void route;
}
