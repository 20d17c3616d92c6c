/**
 * When a cached token is refreshed. DESIGN.md: once less than max(30 s, 10%
 * of its lifetime) remains, but never before half of it has passed, so a
 * 60-minute token refreshes at 54 minutes and a 4-second one at 2 seconds
 * (a 30-second margin alone would refresh short-lived tokens on every use).
 */

/** The least time left that triggers a refresh, whatever the lifetime. */
export const MIN_REFRESH_MARGIN_MS = 30_000;

/** The moment (ms since the epoch) a token obtained at `obtainedAtMs` with `lifetimeMs` is due for refresh. */
export function refreshDueAt(obtainedAtMs: number, lifetimeMs: number): number {
  const margin = Math.max(MIN_REFRESH_MARGIN_MS, lifetimeMs / 10);
  return obtainedAtMs + Math.max(lifetimeMs / 2, lifetimeMs - margin);
}
