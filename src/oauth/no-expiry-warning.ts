import type { TokenCacheLogger } from "./token-cache-api.ts";
import { logFields, type Entry } from "./token-cache-entry.ts";

// The secrets already warned about are forgotten past this many, so that
// the set stays bounded whatever the number of secrets.
const MAX_WARNED_SECRETS = 10_000;

/**
 * Says, once per secret (all its versions alike), that a token response had
 * no `expires_in` and the token is cached for the default TTL.
 */
export function createNoExpiryWarning(logger: TokenCacheLogger | undefined, defaultTtlMs: number): (entry: Entry) => void {
  const warned = new Set<string>();
  return (entry) => {
    if (warned.has(entry.secretId)) {
      return;
    }
    if (warned.size >= MAX_WARNED_SECRETS) {
      warned.clear();
    }
    warned.add(entry.secretId);
    logger?.warn(
      { ...logFields(entry.key), defaultTtlMs },
      "OAuth2 token response has no expires_in; caching the token for the default TTL",
    );
  };
}
