import type { Mode, OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import type { BackoffPolicy } from "./backoff.ts";
import type { DpopProver } from "./dpop-proof.ts";
import type { TokenCacheTimer } from "./token-cache-timer.ts";
import type { TokenFetcher } from "./token-fetch.ts";

/**
 * The token cache's contract, as the Inject service uses it; the
 * implementation is createTokenCache in token-cache.ts.
 */

/** A token ready for a step. */
export interface AccessToken {
  /** The access token; never log it or put it into an error. */
  accessToken: string;
  /** The token type as openid-client reports it (lowercased, e.g. "bearer"). */
  tokenType: string;
  /** When the token stops being valid; for a token without `expires_in`, the default-TTL expiry. */
  expiresAt: Date | undefined;
  /** For a DPoP-bound token: signs a fresh proof for each request (the token is useless without one). */
  dpop?: DpopProver;
}

/** What a cached token belongs to: a secret's mode, name and version. */
export interface TokenCacheKey {
  mode: Mode;
  name: string;
  version: bigint;
}

/** Running totals since the cache was created. */
export interface TokenCacheCounters {
  /** Token fetches started, cold and background (a fetch may make several HTTP attempts). */
  fetches: number;
  /** token() calls answered with a cached, unexpired token. */
  hits: number;
  /** token() calls that waited for a fetch, whether they started it or joined it. */
  misses: number;
  /** Background refreshes that failed (the cached token may still have been served). */
  refreshFailures: number;
}

/** The logging the cache needs; a pino logger fits. */
export interface TokenCacheLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Options of createTokenCache; the sizes are the broker's configuration, the rest have defaults. */
export interface TokenCacheOptions {
  /** Fetches a token (default: createTokenFetcher() with its defaults). */
  fetchToken?: TokenFetcher;
  /** Most entries (mode, name, version) kept, at least 1; the least recently used goes first. */
  maxEntries: number;
  /** How long to keep a token whose response had no `expires_in`, in ms. */
  defaultTtlMs: number;
  /** Delays between background refreshes that keep failing (default 1 s doubling to at most 30 s, jittered). */
  refreshBackoff?: BackoffPolicy;
  /** Receives warnings: a token without `expires_in` (once per secret), a failed refresh. */
  logger?: TokenCacheLogger;
  /** The clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** The timers of refreshes, retries and expiries (default: Node's, unref'ed); a test passes one that runs on its `now`. */
  timer?: TokenCacheTimer;
}

/** Client-credentials tokens per secret version: single flight, refresh ahead, serve while failing. */
export interface TokenCache {
  /**
   * A valid token for the secret version, from the cache or fetched.
   * `credentials` is called only when a fetch starts (cold or refresh), so
   * a warm call opens nothing and no plaintext is kept between fetches. Rejects
   * with the fetch's CredbrokerError (ERR_UNAVAILABLE, ERR_OAUTH_*),
   * or with ERR_UNAVAILABLE and no request while the endpoint's Retry-After holds.
   */
  token(key: TokenCacheKey, credentials: () => OAuth2ClientCredentials): Promise<AccessToken>;
  /**
   * The cached, unexpired token of a secret version, or undefined: the
   * synchronous hit path of token(), counted and refreshing ahead the same way.
   */
  peek(key: TokenCacheKey): AccessToken | undefined;
  /**
   * Drops every version's entry for the secret. A fetch in flight is not
   * cached; callers already waiting for it get its outcome, later callers
   * start a new fetch.
   */
  invalidate(mode: Mode, name: string): void;
  /** Live counters; read them, do not write them. */
  readonly counters: TokenCacheCounters;
  /** Stops background refreshes and drops every entry; later token() calls fetch without caching. */
  close(): void;
}
