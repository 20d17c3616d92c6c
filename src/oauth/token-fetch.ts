import type { CustomFetch } from "openid-client";
import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import type { BackoffPolicy } from "./backoff.ts";
import type { DpopProver } from "./dpop-proof.ts";

/** Options of createTokenFetcher; every field has a default. */
export interface TokenFetcherOptions {
  /**
   * The most one token fetch may take, retries included, in milliseconds
   * (default 10 000). Each attempt gets what is left of it, so a hung
   * endpoint answers UNAVAILABLE after this long, not after attempts x this.
   */
  timeoutMs?: number;
  /** HTTP attempts per fetch, the first included (default 3). */
  maxAttempts?: number;
  /** Delays between attempts (default 200 ms doubling to at most 2 s, jittered). */
  retryBackoff?: BackoffPolicy;
  /**
   * The fetch implementation (default: the global fetch), e.g. one that
   * trusts a private CA. It receives openid-client's request unchanged
   * except for `signal`, which carries the deadline.
   */
  fetch?: CustomFetch;
}

/** A token as the endpoint issued it. */
export interface FetchedToken {
  /** The access token; never log it or put it into an error. */
  accessToken: string;
  /** The token type, lowercased by openid-client (e.g. "bearer"). */
  tokenType: string;
  /** `expires_in` in seconds as sent, or undefined when the endpoint sent none. */
  expiresIn: number | undefined;
  /** `scope` as sent (space-separated), or undefined when the endpoint sent none, which RFC 6749 (5.1) makes the scopes requested. */
  scope?: string;
  /** For a DPoP-bound token: signs the proof of each request it is sent with. */
  dpop?: DpopProver;
}

/** Fetches one client-credentials token; rejects with a CredbrokerError, or with the error of loading the OAuth2 client (an internal fault). */
export type TokenFetcher = (credentials: OAuth2ClientCredentials) => Promise<FetchedToken>;

/** The OAuth2 client (openid-client, jose and the grant built on them): one module graph, loaded once by Node. */
const loadGrant = () => import("./token-grant.ts");

/**
 * Creates a token fetcher over openid-client's client-credentials grant,
 * with a deadline and bounded retries. The OAuth2 client loads on the first
 * fetch, unless preloadTokenFetch brought it in already: a broker that
 * serves no OAuth2 secret never needs it, and it is not on the way to
 * listening.
 */
export function createTokenFetcher(options: TokenFetcherOptions = {}): TokenFetcher {
  let grant: Promise<TokenFetcher> | undefined;
  return async (credentials) => {
    grant ??= loadGrant().then(({ createGrantFetcher }) => createGrantFetcher(options));
    return (await grant)(credentials);
  };
}

/** Loads the OAuth2 client now, so that the first token fetch does not wait for it; rejects when it cannot load. */
export async function preloadTokenFetch(): Promise<void> {
  await loadGrant();
}
