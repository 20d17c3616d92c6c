import { CredbrokerError } from "../errors.ts";
import { authorizationHeaderProblem } from "./authorization-header.ts";
import type { AccessToken } from "./token-cache-api.ts";
import type { FetchedToken } from "./token-fetch.ts";
import { tokenLifetimeMs } from "./token-lifetime.ts";

/** A fetched token made ready to serve, with the lifetime the cache goes by. */
export interface ServableToken {
  value: AccessToken;
  /** Within [0, MAX_TOKEN_LIFETIME_MS]. */
  lifetimeMs: number;
  expiresAtMs: number;
  /** The endpoint sent no `expires_in`: the lifetime is the default TTL. */
  sentNoExpiry: boolean;
}

/**
 * Checks and bounds what a token endpoint issued, before anything caches or
 * serves it: the token endpoint is untrusted input, and a token that cannot
 * be served must never sit in the cache. Throws ERR_UNAVAILABLE (never
 * quoting the token) for a token that is not a valid header value or has no
 * usable lifetime.
 */
export function servableToken(fetched: FetchedToken, startedAtMs: number, defaultTtlMs: number): ServableToken {
  const problem = authorizationHeaderProblem(fetched);
  if (problem !== undefined) {
    throw new CredbrokerError("ERR_UNAVAILABLE", `malformed token response: the endpoint issued ${problem}`);
  }
  const lifetimeMs = tokenLifetimeMs(fetched.expiresIn, defaultTtlMs);
  if (lifetimeMs === undefined) {
    throw new CredbrokerError("ERR_UNAVAILABLE", "malformed token response: expires_in is not a number");
  }
  // Counted from the request's start: the server's clock started later, so
  // this errs towards expiring early.
  const expiresAtMs = startedAtMs + lifetimeMs;
  return {
    value: {
      accessToken: fetched.accessToken,
      tokenType: fetched.tokenType,
      expiresAt: new Date(expiresAtMs),
      ...(fetched.dpop === undefined ? {} : { dpop: fetched.dpop }),
    },
    lifetimeMs,
    expiresAtMs,
    sentNoExpiry: fetched.expiresIn === undefined,
  };
}
