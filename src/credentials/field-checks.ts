import { tokenUrlProblem } from "../oauth/token-url.ts";

/**
 * The checks a credential field's value can be put to, each with the
 * broker's words (`problem`, after the field path in an error) and the
 * admin page's (`sentence`). Plain patterns with no Node.js import: the
 * broker and the page run the same checks, so the page cannot drift from
 * what the broker accepts.
 */
export interface FieldCheck {
  /** The fault of a value, or undefined when the value passes. */
  (value: string): CheckFault | undefined;
}

/** Why a value fails a check, in the broker's words and the page's. */
export interface CheckFault {
  /** The broker's words, e.g. "must not contain control characters". */
  problem: string;
  /** The page's words, e.g. "Remove the control characters."; absent: the page shows the broker's. */
  sentence?: string;
}

/** The largest credential field the broker takes, in UTF-8 bytes. */
export const maxFieldBytes = 64 * 1024;

/** Control characters no one-line identifier (username, client id, audience) may hold. */
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/;

/** An HTTP header name: an RFC 9110 5.1 token. */
const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers an HTTP client sets itself; an API key there would break the request. */
const reservedHeaders: ReadonlySet<string> = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-connection",
]);

/** What an HTTP header value may not hold (RFC 9110 5.5): CR, LF, NUL and other controls but tab, or non-octets. */
// eslint-disable-next-line no-control-regex
const headerValueForbidden = /[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/;

/** An OAuth2 scope token (RFC 6749 3.3: 1*( %x21 / %x23-5B / %x5D-7E )). */
const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Whether a value is over the field size cap, counted in UTF-8 bytes. */
export function isOversized(value: string): boolean {
  // length bounds the UTF-8 size from below and 3x length from above
  return value.length * 3 > maxFieldBytes && new TextEncoder().encode(value).length > maxFieldBytes;
}

/** Whether text is JSON that parses to an object (not an array, not a scalar). */
function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function check(passes: (value: string) => boolean, problem: string, sentence: string): FieldCheck {
  return (value) => (passes(value) ? undefined : { problem, sentence });
}

/** No ':' (a basic auth username; RFC 7617 splits on the first colon). */
export const noColon = check((value) => !value.includes(":"), "must not contain ':' (RFC 7617)", "A basic auth username cannot contain ':'.");

/** No control characters (one-line identifiers). */
export const noControls = check((value) => !controlCharacters.test(value), "must not contain control characters", "Remove the control characters.");

/** An RFC 9110 token, as an HTTP header name must be. */
export const headerName = check(
  (value) => headerNamePattern.test(value),
  "must be a valid HTTP header name (RFC 9110 token)",
  "Use a valid HTTP header name (letters, digits and -, no spaces).",
);

/** Not a header the HTTP client sets itself. */
export const notReservedHeader = check(
  (value) => !reservedHeaders.has(value.toLowerCase()),
  "must not be a connection or framing header",
  "This header is set by the HTTP client itself; pick another.",
);

/** What an HTTP header value may hold. */
export const headerValue = check(
  (value) => !headerValueForbidden.test(value),
  "must be a valid HTTP header value (no CR, LF or control characters)",
  "Must be a valid HTTP header value: no line breaks or control characters.",
);

/** No leading or trailing whitespace (a header value would lose it). */
export const trimmed = check((value) => value.trim() === value, "must not start or end with whitespace", "Remove the spaces at the start or end.");

/** A token endpoint the broker may call; the page shows the broker's words, since whether http is allowed depends on the host. */
export const tokenUrl: FieldCheck = (value) => {
  const problem = tokenUrlProblem(value);
  return problem === undefined ? undefined : { problem };
};

/** An absolute URI without a fragment (an RFC 8707 resource indicator). */
export const absoluteUri = check(
  (value) => URL.canParse(value) && new URL(value).hash === "",
  "must be an absolute URI without a fragment (RFC 8707)",
  "Use an absolute URI without a #fragment.",
);

/** JSON text that parses to an object. */
export const jsonObject = check(isJsonObject, "must be JSON text that parses to an object", "Enter JSON text that is an object ({ ... }).");

/** One OAuth2 scope token. */
export const scopeToken = check(
  (value) => scopeTokenPattern.test(value),
  "must be a non-empty scope token without spaces or quotes",
  "A scope is one word without spaces or quotes.",
);

/** The JWS algorithms a client assertion may be signed with (RFC 7518, RFC 8037; Ed25519 per RFC 9864). */
export const assertionAlgorithms: readonly string[] = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"];

/** A client-assertion algorithm the broker signs with; whether it fits the key is the broker's check. */
export const signingAlg = check(
  (value) => assertionAlgorithms.includes(value),
  `must be one of ${assertionAlgorithms.join(", ")}`,
  `Use one of ${assertionAlgorithms.join(", ")}, or leave it empty for the key's default.`,
);
