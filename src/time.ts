/** The current time in whole seconds since the epoch (tests control it with fake timers). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
