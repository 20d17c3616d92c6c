import { ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from "openid-client";

/**
 * The OAuth error body (RFC 6749 §5.2) of token endpoint answers that
 * openid-client does not parse: a 401 with a WWW-Authenticate challenge (it
 * stops at the header, so a realm-only `Basic realm="..."` hides the body's
 * `invalid_client`), and 4xx/5xx answers without an `application/json` type.
 */

/** What an error body says: the `error` code and whatever `error_description` it has. */
export interface OAuthErrorBody {
  error: string;
  description: unknown;
}

// An error body is a few hundred bytes; a bigger one is not read to the end.
const MAX_ERROR_BODY_BYTES = 16 * 1024;

/** The HTTP response behind an openid-client error (an error status), or undefined. */
export function errorResponseOf(error: unknown): Response | undefined {
  let response: unknown;
  if (error instanceof ResponseBodyError || error instanceof WWWAuthenticateChallengeError) {
    response = error.response;
  } else if (error instanceof ClientError && (error.code === "OAUTH_RESPONSE_IS_NOT_CONFORM" || error.code === "OAUTH_RESPONSE_IS_NOT_JSON")) {
    response = error.cause;
  }
  return response instanceof Response && response.status >= 400 ? response : undefined;
}

/** The error response behind an openid-client error that did not parse its body, while the body is still unread. */
export function unreadErrorResponse(error: unknown): Response | undefined {
  const response = error instanceof ResponseBodyError ? undefined : errorResponseOf(error);
  return response?.bodyUsed === false ? response : undefined;
}

/** Reads a response's body as an OAuth error, or undefined when it is none (or too big, or unreadable). */
export async function oauthErrorBody(response: Response): Promise<OAuthErrorBody | undefined> {
  const text = await boundedText(response);
  if (text === undefined) {
    return undefined;
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === "object" && json !== null && "error" in json && typeof json.error === "string" && json.error !== "") {
      return { error: json.error, description: "error_description" in json ? json.error_description : undefined };
    }
  } catch {
    // not JSON: no OAuth error to read
  }
  return undefined;
}

async function boundedText(response: Response): Promise<string | undefined> {
  const reader = response.body?.getReader();
  if (reader === undefined) {
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        return Buffer.concat(chunks).toString("utf8");
      }
      size += value.byteLength;
      if (size > MAX_ERROR_BODY_BYTES) {
        await reader.cancel();
        return undefined;
      }
      chunks.push(value);
    }
  } catch {
    // the deadline fired or the connection dropped mid-body
    return undefined;
  }
}
