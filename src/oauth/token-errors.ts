import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from "openid-client";
import { CredbrokerError } from "../errors.ts";
import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import { isHttpToken } from "./authorization-header.ts";
import { credentialEchoCheck } from "./credential-echo.ts";
import type { CredentialEchoCheck } from "./credential-echo.ts";
import { errorResponseOf, oauthErrorBody, unreadErrorResponse } from "./error-body.ts";
import { RetryAfterError, retryAfterMs } from "./retry-after.ts";

/**
 * Turns what openid-client throws into CredbrokerErrors. The new errors carry
 * no `cause`: openid-client's errors hold the Response, the parsed body (with
 * the access token, for a malformed success) or the request's abort reason,
 * and any of them could reach a log line through a cause chain.
 */

/** A token request failure, as the broker reports it, and whether trying again may help. */
export interface TokenRequestFailure {
  /**
   * ERR_OAUTH_* or ERR_UNAVAILABLE, with a message free of
   * credentials; a RetryAfterError when a 429 or 503 said when to ask again.
   */
  error: CredbrokerError;
  /** True for network errors, 5xx and 429: the next attempt may succeed. */
  retryable: boolean;
}

// OAuth error codes that say "the server is in trouble", not "you are wrong";
// some servers send them with a 400.
const SERVER_SIDE_OAUTH_ERRORS = new Set(["server_error", "temporarily_unavailable"]);

// RFC 6749 §5.2: the characters an `error` code may have.
const ERROR_CODE = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
// Longer server text is not worth the doubt: dropped unread.
const MAX_CHECKED_TEXT = 1_000;
const MAX_DESCRIPTION = 300;

/**
 * Classifies an error thrown by clientCredentialsGrant, reading the error
 * body that openid-client left unread (see error-body.ts). Server text that
 * carries any form of the credentials (see credential-echo.ts) is dropped,
 * never redacted piecemeal.
 */
export async function classifyTokenError(
  error: unknown,
  credentials: Pick<OAuth2ClientCredentials, "clientId" | "clientSecret">,
): Promise<TokenRequestFailure> {
  const failure = await classify(error, credentials);
  const response = errorResponseOf(error);
  const wait = response === undefined ? undefined : retryAfterMs(response);
  return wait === undefined ? failure : { ...failure, error: new RetryAfterError(failure.error.message, wait) };
}

async function classify(
  error: unknown,
  credentials: Pick<OAuth2ClientCredentials, "clientId" | "clientSecret">,
): Promise<TokenRequestFailure> {
  const echoes = (): CredentialEchoCheck => credentialEchoCheck(credentials.clientId, credentials.clientSecret);
  if (error instanceof ResponseBodyError) {
    return oauthError(error.status, error.error, error.error_description, echoes());
  }
  // The body's `error` wins whenever there is one (RFC 6749 §5.2 puts it there).
  const response = unreadErrorResponse(error);
  const body = response === undefined ? undefined : await oauthErrorBody(response);
  if (response !== undefined && body !== undefined) {
    return oauthError(response.status, body.error, body.description, echoes());
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    const challenge = error.cause.find((c) => typeof c.parameters.error === "string") ?? error.cause[0];
    return oauthError(
      error.status,
      challenge?.parameters.error ?? `${challenge?.scheme ?? "authentication"} challenge`,
      challenge?.parameters.error_description,
      echoes(),
    );
  }
  if (hasTimeout(error)) {
    return unavailable("token request timed out", true);
  }
  if (error instanceof ClientError) {
    return clientError(error);
  }
  if (error instanceof TypeError && !("code" in error)) {
    // fetch rejects with a bare TypeError("fetch failed") whose cause names
    // the socket or TLS problem; openid-client's own TypeErrors carry a code.
    const reason = networkCode(error);
    // A certificate that fails verification fails again: not worth a retry.
    const tls = reason !== undefined && /CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_(VERIFY|GET)/.test(reason);
    return unavailable(`token endpoint unreachable${reason === undefined ? "" : ` (${reason})`}`, !tls);
  }
  return unavailable("token request failed", false);
}

function oauthError(
  status: number,
  code: unknown,
  description: unknown,
  echoes: CredentialEchoCheck,
): TokenRequestFailure {
  const codeText = typeof code === "string" && ERROR_CODE.test(code) && !echoes(code) ? code : "unknown_error";
  const descriptionText = safeDescription(description, echoes);
  const detail = descriptionText === undefined ? codeText : `${codeText}: ${descriptionText}`;
  if (status >= 500 || status === 429 || SERVER_SIDE_OAUTH_ERRORS.has(codeText)) {
    return unavailable(`token endpoint answered HTTP ${status} (${detail})`, true);
  }
  return {
    error: new CredbrokerError("ERR_OAUTH_REJECTED", `token endpoint rejected the request: ${detail}`, { metadata: { oauthError: codeText } }),
    retryable: false,
  };
}

function clientError(error: ClientError): TokenRequestFailure {
  switch (error.code) {
    case "OAUTH_RESPONSE_IS_NOT_CONFORM":
    case "OAUTH_RESPONSE_IS_NOT_JSON": {
      // oauth4webapi parses error bodies of 4xx JSON only: a 5xx, or a 4xx
      // HTML page, ends up here (its body read first, for an OAuth error).
      const status = error.cause instanceof Response ? error.cause.status : 0;
      if (status === 200) {
        return unavailable("malformed token response: not JSON (unexpected content-type)", false);
      }
      if (status >= 500 || status === 429) {
        return unavailable(`token endpoint answered HTTP ${status}`, true);
      }
      if (status >= 400) {
        // A 4xx without an OAuth error body: the URL or the server is wrong,
        // and asking again will not change that.
        return {
          error: new CredbrokerError(
            "ERR_OAUTH_NOT_TOKEN_ENDPOINT",
            `token endpoint answered HTTP ${status} without an OAuth error; check the token URL`,
          ),
          retryable: false,
        };
      }
      return unavailable(`token endpoint answered HTTP ${status}, not a token response`, false);
    }
    case "OAUTH_PARSE_ERROR":
    case "OAUTH_INVALID_RESPONSE":
      // The inner message names the offending property, never its value.
      return unavailable(`malformed token response: ${innerMessage(error)}`, false);
    case "OAUTH_UNSUPPORTED_OPERATION": {
      const type = tokenTypeOf(error);
      if (type === undefined || !isHttpToken(type)) {
        // Not a type the broker lacks but no type at all (CR LF, spaces...): the endpoint is broken.
        return unavailable("malformed token response: the endpoint issued a token_type that is not an HTTP token (RFC 7230)", false);
      }
      return {
        error: new CredbrokerError(
          "ERR_OAUTH_TOKEN_TYPE",
          `token endpoint issued an unsupported token_type${type.length <= 32 ? ` "${type}"` : ""}`,
        ),
        retryable: false,
      };
    }
    default:
      return unavailable(`token request failed (${error.code ?? "unknown"})`, false);
  }
}

function unavailable(message: string, retryable: boolean): TokenRequestFailure {
  return { error: new CredbrokerError("ERR_UNAVAILABLE", message), retryable };
}

/** The message of openid-client's wrapped OperationProcessingError, which is templated and value-free. */
function innerMessage(error: ClientError): string {
  const inner = error.cause;
  const text = inner instanceof Error ? inner.message : error.message;
  return text.replaceAll('"response" body ', "").replaceAll('"', "");
}

/** The token_type of a response with an unsupported one, if it is a string (the token is never read). */
function tokenTypeOf(error: ClientError): string | undefined {
  const inner: unknown = error.cause instanceof Error ? error.cause.cause : undefined;
  const body: unknown = typeof inner === "object" && inner !== null && "body" in inner ? inner.body : undefined;
  const type: unknown = typeof body === "object" && body !== null && "token_type" in body ? body.token_type : undefined;
  return typeof type === "string" ? type : undefined;
}

/** True when the request's deadline fired, before or after the response headers. */
function hasTimeout(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error && e.name === "TimeoutError") {
      return true;
    }
    if (e instanceof ClientError && e.code === "OAUTH_TIMEOUT") {
      return true;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** The errno-style code (ECONNREFUSED, UND_ERR_SOCKET, ...) in a fetch error's cause chain. */
function networkCode(error: Error): string | undefined {
  for (let e: unknown = error.cause, depth = 0; e !== undefined && depth < 5; depth++) {
    if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") {
      return /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * An error_description fit for a message, or a note that it was withheld:
 * kept only when it is printable ASCII, not too long, and carries no form of
 * the credentials; then cut to MAX_DESCRIPTION (a cut of clean text is clean).
 */
function safeDescription(value: unknown, echoes: CredentialEchoCheck): string | undefined {
  if (typeof value !== "string" || value === "") {
    return undefined;
  }
  const text = value.replace(/[\t\r\n]+/g, " ");
  if (text.length > MAX_CHECKED_TEXT || !/^[\x20-\x7e]+$/.test(text) || echoes(text)) {
    return "(error_description withheld)";
  }
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION)}...` : text;
}
