import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import { backoffDelay } from "./backoff.ts";
import { createNoExpiryWarning } from "./no-expiry-warning.ts";
import { entryId, errorCode, errorMessage, logFields, newEntry, secretId, timerDueAt } from "./token-cache-entry.ts";
import type { Entry } from "./token-cache-entry.ts";
import type {
  AccessToken,
  TokenCache,
  TokenCacheCounters,
  TokenCacheKey,
  TokenCacheOptions,
} from "./token-cache-api.ts";
import { createTokenFetcher } from "./token-fetch.ts";
import { refreshDueAt } from "./token-lifetime.ts";
import { RetryAfterError, heldOffError } from "./retry-after.ts";
import { servableToken } from "./servable-token.ts";
import type { ServableToken } from "./servable-token.ts";
import { nodeTimer } from "./token-cache-timer.ts";

export type {
  AccessToken,
  TokenCache,
  TokenCacheCounters,
  TokenCacheKey,
  TokenCacheLogger,
  TokenCacheOptions,
} from "./token-cache-api.ts";
export type { TokenCacheTimer } from "./token-cache-timer.ts";

/** Creates a token cache. */
export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const fetchToken = options.fetchToken ?? createTokenFetcher();
  const maxEntries = Math.max(1, options.maxEntries);
  const defaultTtlMs = options.defaultTtlMs;
  const refreshBackoff = options.refreshBackoff ?? { baseMs: 1_000, maxMs: 30_000 };
  const logger = options.logger;
  const now = options.now ?? Date.now;
  const timer = options.timer ?? nodeTimer;
  const counters: TokenCacheCounters = { fetches: 0, hits: 0, misses: 0, refreshFailures: 0 };
  // Map order is the LRU order: a hit moves its entry to the end.
  const entries = new Map<string, Entry>();
  const warnNoExpiry = createNoExpiryWarning(logger, defaultTtlMs);
  let closed = false;

  /** The cached, unexpired token of an entry (a hit), starting a due refresh; undefined on a miss. */
  function hit(entry: Entry | undefined, t: number): AccessToken | undefined {
    const cached = entry?.token;
    if (entry === undefined || cached === undefined || t >= cached.expiresAtMs) {
      return undefined;
    }
    entries.delete(entry.id);
    entries.set(entry.id, entry);
    counters.hits++;
    entry.used = true;
    if (t >= cached.refreshAtMs && t >= entry.retryAtMs) {
      // Covers a timer that is late (or a clock that is not Date.now).
      startFetch(entry);
    }
    return cached.value;
  }

  function token(key: TokenCacheKey, credentials: () => OAuth2ClientCredentials): Promise<AccessToken> {
    const t = now();
    const id = entryId(key);
    let entry = entries.get(id);
    const cached = hit(entry, t);
    if (cached !== undefined) {
      return Promise.resolve(cached);
    }
    if (entry !== undefined) {
      entries.delete(id);
      entries.set(id, entry);
      // Never serve an expired token: from here the caller waits for a fetch.
      entry.token = undefined;
      if (entry.flight === undefined && t < entry.heldUntilMs) {
        return Promise.reject(heldOffError(entry.heldReason, entry.heldUntilMs));
      }
    } else {
      entry = newEntry(key, credentials);
      if (!closed) {
        entries.set(id, entry);
        evictOverflow();
      } else {
        entry.live = false;
      }
    }
    counters.misses++;
    return entry.flight ?? startFetch(entry);
  }

  function startFetch(entry: Entry): Promise<AccessToken> {
    if (entry.flight !== undefined) {
      return entry.flight;
    }
    const isRefresh = entry.token !== undefined;
    const startedAt = now();
    counters.fetches++;
    // Built before onFetched caches it: a token that cannot be served fails
    // like a fetch and never reaches the cache.
    const flight: Promise<AccessToken> = (async () =>
      servableToken(await fetchToken(entry.credentials()), startedAt, defaultTtlMs))().then(
      (servable) => onFetched(entry, flight, startedAt, servable),
      (error: unknown) => {
        throw onFetchFailed(entry, flight, isRefresh, error);
      },
    );
    entry.flight = flight;
    // A background refresh has no caller to take its rejection.
    flight.catch(() => {});
    return flight;
  }

  function onFetched(entry: Entry, flight: Promise<AccessToken>, startedAt: number, servable: ServableToken): AccessToken {
    if (entry.flight === flight) {
      entry.flight = undefined;
    }
    const { value, lifetimeMs, expiresAtMs } = servable;
    if (!entry.live) {
      // Invalidated, evicted or closed while in flight: its waiters get the
      // token they asked for, nobody else ever sees it.
      return value;
    }
    if (lifetimeMs <= 0 || expiresAtMs <= now()) {
      // expires_in <= 0 (or used up on the way): hand it out, never cache it.
      retire(entry);
      return value;
    }
    if (servable.sentNoExpiry) {
      warnNoExpiry(entry);
    }
    entry.token = { value, expiresAtMs, refreshAtMs: refreshDueAt(startedAt, lifetimeMs) };
    entry.used = false;
    entry.failures = 0;
    entry.retryAtMs = 0;
    entry.heldUntilMs = 0;
    schedule(entry);
    return value;
  }

  /** Books a failed fetch (backoff, or the endpoint's Retry-After) and returns the error for its callers. */
  function onFetchFailed(entry: Entry, flight: Promise<AccessToken>, isRefresh: boolean, error: unknown): unknown {
    if (entry.flight === flight) {
      entry.flight = undefined;
    }
    const t = now();
    const asked = error instanceof RetryAfterError && error.retryAfterMs > 0 ? error : undefined;
    // The time is told on the cache's clock, the one the hold is kept on.
    const thrown = asked === undefined ? error : heldOffError(asked.message, t + asked.retryAfterMs);
    if (!entry.live) {
      return thrown;
    }
    const cached = entry.token;
    if (isRefresh) {
      counters.refreshFailures++;
      entry.failures++;
      logger?.warn(
        { ...logFields(entry.key), failures: entry.failures, code: errorCode(error), reason: errorMessage(thrown) },
        "OAuth2 token refresh failed; serving the cached token until it expires",
      );
    }
    if (asked !== undefined) {
      entry.heldUntilMs = t + asked.retryAfterMs;
      entry.heldReason = asked.message;
    }
    if (cached === undefined || t >= cached.expiresAtMs) {
      if (t < entry.heldUntilMs) {
        // Kept, with no token, so that it remembers the hold for the callers to come.
        entry.token = undefined;
      } else {
        retire(entry);
      }
      return thrown;
    }
    entry.retryAtMs = Math.max(t + backoffDelay(entry.failures, refreshBackoff), entry.heldUntilMs);
    schedule(entry);
    return thrown;
  }

  /** One timer per entry, for the next refresh (or retry), or to drop an unused token at expiry. */
  function schedule(entry: Entry): void {
    stopTimer(entry);
    const cached = entry.token;
    if (closed || !entry.live || cached === undefined) {
      return;
    }
    const t = now();
    entry.timer = timer.set(() => onTimer(entry), timerDueAt(entry, cached, t) - t);
  }

  function stopTimer(entry: Entry): void {
    if (entry.timer !== undefined) {
      timer.clear(entry.timer);
      entry.timer = undefined;
    }
  }

  function onTimer(entry: Entry): void {
    entry.timer = undefined;
    const cached = entry.token;
    if (closed || !entry.live || cached === undefined || entry.flight !== undefined) {
      return;
    }
    const t = now();
    if (t >= cached.expiresAtMs) {
      // Unused until expiry: drop the plaintext rather than keep it for LRU.
      retire(entry);
    } else if (t >= cached.refreshAtMs && t >= entry.retryAtMs && (entry.used || entry.failures > 0)) {
      startFetch(entry);
    } else {
      schedule(entry);
    }
  }

  function retire(entry: Entry): void {
    entry.live = false;
    entry.token = undefined;
    stopTimer(entry);
    if (entries.get(entry.id) === entry) {
      entries.delete(entry.id);
    }
  }

  function evictOverflow(): void {
    for (const entry of entries.values()) {
      if (entries.size <= maxEntries) {
        return;
      }
      retire(entry);
    }
  }

  return {
    token,
    peek: (key) => hit(entries.get(entryId(key)), now()),
    invalidate(mode, name) {
      const target = secretId(mode, name);
      for (const entry of entries.values()) {
        if (entry.secretId === target) {
          retire(entry);
        }
      }
    },
    counters,
    close() {
      closed = true;
      for (const entry of entries.values()) {
        retire(entry);
      }
    },
  };
}
