/**
 * How long a cached token lives and when it is refreshed. DESIGN.md: once
 * less than max(30 s, 10% of its lifetime) remains, but never before half of
 * it has passed, so a 60-minute token refreshes at 54 minutes and a 4-second
 * one at 2 seconds (a 30-second margin alone would refresh short-lived tokens
 * on every use).
 */

/** The least time left that triggers a refresh, whatever the lifetime. */
export const MIN_REFRESH_MARGIN_MS = 30_000;

/**
 * The longest lifetime the broker believes (365 days): a longer `expires_in`
 * (or default TTL) is cut to it. It keeps every expiry a valid timestamp, and
 * a token that claims to live for ages is refreshed within a year anyway.
 */
export const MAX_TOKEN_LIFETIME_MS = 365 * 24 * 3600 * 1000;

/**
 * A token's lifetime in ms from `expires_in` (seconds, undefined when not
 * sent: `defaultTtlMs`), within [0, MAX_TOKEN_LIFETIME_MS]; undefined for NaN,
 * which no lifetime can be made of.
 */
export function tokenLifetimeMs(expiresIn: number | undefined, defaultTtlMs: number): number | undefined {
  const ms = expiresIn === undefined ? defaultTtlMs : expiresIn * 1000;
  if (Number.isNaN(ms)) {
    return undefined;
  }
  return Math.min(MAX_TOKEN_LIFETIME_MS, Math.max(0, ms));
}

/** The moment (ms since the epoch) a token obtained at `obtainedAtMs` with `lifetimeMs` is due for refresh. */
export function refreshDueAt(obtainedAtMs: number, lifetimeMs: number): number {
  const margin = Math.max(MIN_REFRESH_MARGIN_MS, lifetimeMs / 10);
  return obtainedAtMs + Math.max(lifetimeMs / 2, lifetimeMs - margin);
}
