import { CredbrokerError } from "../errors.ts";
import type { Mode, OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import type { AccessToken, TokenCacheKey } from "./token-cache-api.ts";

/** The token cache's bookkeeping for one secret version, and the ids and log fields derived from it. */

/** A token in the cache, with the moments that drive it. */
export interface CachedToken {
  value: AccessToken;
  expiresAtMs: number;
  refreshAtMs: number;
}

/** One secret version. Retired entries (invalidated, evicted, closed) are out of the map for good. */
export interface Entry {
  readonly id: string;
  readonly secretId: string;
  readonly key: TokenCacheKey;
  /** Opens the stored credentials when a fetch needs them; the entry keeps no plaintext. */
  readonly credentials: () => OAuth2ClientCredentials;
  live: boolean;
  token: CachedToken | undefined;
  flight: Promise<AccessToken> | undefined;
  /** Whether the current token was served since it was fetched: idle secrets are not refreshed. */
  used: boolean;
  failures: number;
  retryAtMs: number;
  /** Until when the endpoint asked for no request (Retry-After), ms since the epoch; 0 for no such ask. */
  heldUntilMs: number;
  /** The failure that asked for it, value-free, for the callers refused meanwhile. */
  heldReason: string;
  /** The handle of the entry's one timer, as TokenCacheTimer.set gave it; undefined when none is set. */
  timer: unknown;
}

/** A fresh, live entry with no token yet. */
export function newEntry(key: TokenCacheKey, credentials: () => OAuth2ClientCredentials): Entry {
  return {
    id: entryId(key),
    secretId: secretId(key.mode, key.name),
    key: { mode: key.mode, name: key.name, version: key.version },
    credentials,
    live: true,
    token: undefined,
    flight: undefined,
    used: false,
    failures: 0,
    retryAtMs: 0,
    heldUntilMs: 0,
    heldReason: "",
    timer: undefined,
  };
}

/**
 * When the entry's timer is next due, at `t`: its refresh (not before a
 * retry's backoff) if its token was served or a refresh failed, else the
 * refresh time, checked once to drop an idle token at expiry.
 */
export function timerDueAt(entry: Entry, cached: CachedToken, t: number): number {
  const wantsRefresh = entry.used || entry.failures > 0;
  const dueAt = wantsRefresh ? Math.max(cached.refreshAtMs, entry.retryAtMs) : cached.refreshAtMs;
  return dueAt >= cached.expiresAtMs || (!wantsRefresh && t >= cached.refreshAtMs) ? cached.expiresAtMs : dueAt;
}

/** The id shared by every version of a secret. */
export function secretId(mode: Mode, name: string): string {
  return `${mode}/${name}`;
}

/** The id of one secret version. */
export function entryId(key: TokenCacheKey): string {
  // The mode ends at the first "/" and the version (digits) starts after the
  // last "@": unambiguous whatever the name holds.
  return `${secretId(key.mode, key.name)}@${key.version}`;
}

/** What a log line may say about an entry: never its credentials or token. */
export function logFields(key: TokenCacheKey): Record<string, unknown> {
  return { mode: key.mode, secret: key.name, version: key.version.toString() };
}

/** The code of a fetch error, for logs. */
export function errorCode(error: unknown): string {
  return error instanceof CredbrokerError ? error.code : "unknown";
}

/** A fetch error's message for logs: only CredbrokerError messages are credential-free by contract. */
export function errorMessage(error: unknown): string | undefined {
  return error instanceof CredbrokerError ? error.message : undefined;
}
