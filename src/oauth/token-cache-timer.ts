/**
 * How the token cache waits: one timer per entry, for its next refresh,
 * retry or expiry. A test gives the cache a timer of its own, with the
 * matching `now`, and moves time by hand instead of sleeping.
 */

/** Sets and clears the cache's timers. */
export interface TokenCacheTimer {
  /** Calls `callback` once, `ms` from now (or sooner: the cache then sees it is early and sets it again); the handle is for clear(). */
  set(callback: () => void, ms: number): unknown;
  /** Cancels a timer that set() returned and that has not fired. */
  clear(handle: unknown): void;
}

// setTimeout's longest delay; a later due time is reached in several hops
// (the cache sees the early call and sets its timer again).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Node's timers, unref'ed: a cache keeps no process alive. */
export const nodeTimer: TokenCacheTimer = {
  set(callback, ms) {
    const timeout = setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
    timeout.unref();
    return timeout;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
