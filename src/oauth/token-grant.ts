import { setTimeout as sleep } from "node:timers/promises";
import {
  ClientSecretPost,
  Configuration,
  allowInsecureRequests,
  clientCredentialsGrant,
  customFetch,
} from "openid-client";
import type { ClientAuth, CustomFetch } from "openid-client";
import { CredbrokerError } from "../errors.ts";
import { OAuth2AuthMethod, OAuth2TokenBinding } from "../gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import { backoffDelay } from "./backoff.ts";
import { clientSecretBasic } from "./client-auth.ts";
import { checkTokenBinding, dpopHandleFor } from "./dpop-grant.ts";
import { dpopKey } from "./dpop-key.ts";
import type { DpopKey } from "./dpop-key.ts";
import { createDpopNonces } from "./dpop-nonces.ts";
import type { DpopNonces } from "./dpop-nonces.ts";
import { dpopProver } from "./dpop-proof.ts";
import { privateKeyJwt } from "./private-key-jwt.ts";
import { RetryAfterError } from "./retry-after.ts";
import type { BackoffPolicy } from "./backoff.ts";
import type { TokenFetcher, TokenFetcherOptions } from "./token-fetch.ts";
import { classifyTokenError } from "./token-errors.ts";
import { tokenUrlProblem } from "./token-url.ts";

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_RETRY_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 2_000 };

/** A token fetcher over openid-client's client-credentials grant, with a deadline and bounded retries (createTokenFetcher loads it). */
export function createGrantFetcher(options: TokenFetcherOptions): TokenFetcher {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const retryBackoff = options.retryBackoff ?? DEFAULT_RETRY_BACKOFF;
  const baseFetch: CustomFetch = options.fetch ?? ((url, init) => fetch(url, { ...init, body: init.body ?? null }));
  const nonces = createDpopNonces();

  return async (credentials) => {
    const deadline = Date.now() + timeoutMs;
    const params = grantParameters(credentials);
    const dpop = credentials.tokenBinding === OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP ? storedDpopKey(credentials) : undefined;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      const config = configurationFor(credentials, baseFetch, nonces, Math.max(1, Math.ceil(remaining)));
      try {
        const response = await clientCredentialsGrant(config, params, dpop === undefined ? undefined : { DPoP: dpopHandleFor(config, dpop, nonces) });
        checkTokenBinding(response.token_type, dpop !== undefined);
        return {
          accessToken: response.access_token,
          tokenType: response.token_type,
          expiresIn: response.expires_in,
          ...(response.scope === undefined ? {} : { scope: response.scope }),
          ...(dpop === undefined ? {} : { dpop: dpopProver(dpop, response.access_token) }),
        };
      } catch (error) {
        if (error instanceof CredbrokerError) {
          throw error;
        }
        const failure = await classifyTokenError(error, credentials);
        // A Retry-After that outlasts the deadline ends the fetch at once:
        // the caller (the token cache) holds off for the rest of it.
        const retryAfter = failure.error instanceof RetryAfterError ? failure.error.retryAfterMs : 0;
        const delay = Math.max(backoffDelay(attempt, retryBackoff), retryAfter);
        if (!failure.retryable || attempt >= maxAttempts || Date.now() + delay >= deadline) {
          throw failure.error;
        }
        await sleep(delay);
      }
    }
  };
}

/** The openid-client Configuration for one attempt: no discovery, the token URL is all a secret holds. */
function configurationFor(
  credentials: OAuth2ClientCredentials,
  baseFetch: CustomFetch,
  nonces: DpopNonces,
  attemptTimeoutMs: number,
): Configuration {
  const problem = tokenUrlProblem(credentials.tokenUrl);
  if (problem !== undefined) {
    // Create and update validate the URL; this guards records from before a rule changed.
    throw new CredbrokerError("ERR_STORED_FIELD_INVALID", `tokenUrl ${problem}`, { field: "credentials.oauth2ClientCredentials.tokenUrl" });
  }
  const url = new URL(credentials.tokenUrl);
  const config = new Configuration(
    { issuer: url.origin, token_endpoint: url.href },
    credentials.clientId,
    undefined,
    clientAuth(credentials),
  );
  if (url.protocol === "http:") {
    // tokenUrlProblem allowed http, so the host is loopback.
    allowInsecureRequests(config);
  }
  // openid-client's own `timeout` is whole seconds per request; ours is a
  // millisecond deadline over all attempts, applied through the signal.
  config.timeout = 0;
  config[customFetch] = (input, init) => {
    const deadline = AbortSignal.timeout(attemptTimeoutMs);
    const signal = init.signal === undefined ? deadline : AbortSignal.any([init.signal, deadline]);
    return baseFetch(input, { ...init, signal }).then((response) => {
      // every answer may carry the nonce (RFC 9449 §8.2), errors first of all
      nonces.note(url.origin, response);
      return response;
    });
  };
  return config;
}

function clientAuth(credentials: OAuth2ClientCredentials): ClientAuth {
  switch (credentials.authMethod) {
    case OAuth2AuthMethod.OAUTH2_AUTH_METHOD_UNSPECIFIED:
    case OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC:
      return clientSecretBasic(credentials.clientSecret);
    case OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST:
      return ClientSecretPost(credentials.clientSecret);
    case OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT:
      return asStored(() => privateKeyJwt(credentials));
    default:
      throw new CredbrokerError(
        "ERR_STORED_FIELD_INVALID",
        `authMethod ${credentials.authMethod} is not supported`,
        { field: "credentials.oauth2ClientCredentials.authMethod" },
      );
  }
}

function storedDpopKey(credentials: OAuth2ClientCredentials): DpopKey {
  return asStored(() => dpopKey(credentials.dpopPrivateKey));
}

/** Create and update check keys; a stored one that fails a check now is a stored fault, not the caller's. */
function asStored<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof CredbrokerError && error.code === "ERR_INVALID_FIELD" && error.field !== undefined) {
      throw new CredbrokerError("ERR_STORED_FIELD_INVALID", `stored ${error.message}`, { field: error.field });
    }
    throw error;
  }
}

/** The grant's extra parameters: space-joined scopes, `audience`, and the RFC 8707 `resource`. */
function grantParameters(credentials: OAuth2ClientCredentials): URLSearchParams {
  const params = new URLSearchParams();
  const scope = credentials.scopes.filter((s) => s !== "").join(" ");
  if (scope !== "") {
    params.set("scope", scope);
  }
  if (credentials.audience !== "") {
    params.set("audience", credentials.audience);
  }
  if (credentials.resource !== "") {
    params.set("resource", credentials.resource);
  }
  return params;
}
