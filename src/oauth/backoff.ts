/**
 * Retry delays shared by the token fetcher (between HTTP attempts) and the
 * token cache (between background refreshes that keep failing).
 */

/** How retry delays grow: doubling from `baseMs`, never above `maxMs`. */
export interface BackoffPolicy {
  /** The ceiling of the first retry's delay, in milliseconds. */
  baseMs: number;
  /** The largest ceiling any retry's delay can reach, in milliseconds. */
  maxMs: number;
}

/**
 * The delay before retry number `retry` (1 for the first retry): exponential
 * and capped, with "equal jitter" (half fixed, half random).
 */
export function backoffDelay(
  retry: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  // Half fixed keeps a floor under the delay (full jitter can retry at once);
  // half random keeps many sidecars that failed together from retrying together.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
