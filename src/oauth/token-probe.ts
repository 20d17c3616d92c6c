import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { CredbrokerError } from "../errors.ts";
import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import { OAuth2TestResultSchema, type OAuth2TestResult } from "../gen/credbroker/v1/secret_service_pb.ts";
import type { ProbeOutcome } from "../material/probe-outcome.ts";
import { credentialEchoCheck } from "./credential-echo.ts";
import { RetryAfterError } from "./retry-after.ts";
import { MAX_TOKEN_LIFETIME_MS } from "./token-lifetime.ts";
import type { TokenFetcher } from "./token-fetch.ts";

/** The failures a token request can meet at the far side: the answer, not an RPC error. */
const REPORTED_FAILURES = new Set(["ERR_OAUTH_REJECTED", "ERR_OAUTH_NOT_TOKEN_ENDPOINT", "ERR_OAUTH_TOKEN_TYPE", "ERR_UNAVAILABLE"]);

// RFC 6749 3.3: scope tokens are %x21 / %x23-5B / %x5D-7E, space-separated.
const SCOPE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{0,2000}$/;

/**
 * Requests one token with the credentials and reports what the endpoint
 * granted or why it refused; the token is dropped here, never returned or
 * cached. The fetcher's own errors (timeout, OAuth error) become the
 * result; anything else (a stored field that fails a rule) stays an error.
 */
export async function probeToken(credentials: OAuth2ClientCredentials, fetchToken: TokenFetcher): Promise<ProbeOutcome<OAuth2TestResult>> {
  try {
    const token = await fetchToken(credentials);
    const result = create(OAuth2TestResultSchema, { granted: true, tokenType: token.tokenType });
    let scopeNote: string;
    if (token.scope === undefined) {
      result.scopesAsRequested = true;
      result.scopes = credentials.scopes.filter((scope) => scope !== "");
      scopeNote = result.scopes.length === 0 ? "no scope" : `scopes as requested: ${result.scopes.join(" ")}`;
    } else if (SCOPE.test(token.scope) && !credentialEchoCheck(credentials.clientId, credentials.clientSecret)(token.scope)) {
      result.scopes = token.scope.split(" ").filter((scope) => scope !== "");
      scopeNote = result.scopes.length === 0 ? "no scope granted" : `scopes granted: ${result.scopes.join(" ")}`;
    } else {
      // server text that could carry anything: not repeated
      scopeNote = "scope withheld (malformed, or it echoed the client secret)";
    }
    if (token.expiresIn !== undefined) {
      result.expiresIn = durationFromMs(Math.min(Math.max(0, Math.floor(token.expiresIn)) * 1000, MAX_TOKEN_LIFETIME_MS));
    }
    const lifetime = result.expiresIn === undefined ? "no expires_in" : `expires in ${result.expiresIn.seconds} s`;
    return { ok: true, summary: `token granted: ${token.tokenType}, ${lifetime}, ${scopeNote}`, result };
  } catch (error) {
    if (!(error instanceof CredbrokerError) || !REPORTED_FAILURES.has(error.code)) {
      throw error;
    }
    const result = create(OAuth2TestResultSchema, { failure: error.code, error: error.metadata.oauthError ?? "" });
    // classifyTokenError's messages are built free of credentials
    const wait = error instanceof RetryAfterError ? `; it asks for no request within ${Math.ceil(error.retryAfterMs / 1000)} s` : "";
    return { ok: false, summary: `${error.message}${wait}`, result };
  }
}
