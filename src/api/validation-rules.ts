/**
 * The rules of valid input, as plain patterns and limits with no Node.js
 * import: the server's checks (validate-request.ts, validate-credentials.ts)
 * and the admin page's form checks (ui/src/validate.ts) both use these, so
 * the page cannot drift from what the broker accepts.
 */

/** A secret name: 1-63 of [a-z0-9._-], starting with a letter or digit. */
export const namePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The largest credential field the broker takes, in UTF-8 bytes. */
export const maxFieldBytes = 64 * 1024;

/** The largest description the broker takes, in characters. */
export const maxDescriptionLength = 1024;

/** The most OAuth2 scopes one secret may list. */
export const maxScopes = 100;

/** Control characters a description may not hold (tab and newline are fine). */
// eslint-disable-next-line no-control-regex
export const descriptionControlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Control characters no one-line identifier (username, client id, audience) may hold. */
// eslint-disable-next-line no-control-regex
export const controlCharacters = /[\u0000-\u001f\u007f]/;

/** An HTTP header name: an RFC 9110 5.1 token. */
export const headerNamePattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers an HTTP client sets itself; an API key there would break the request. */
export const reservedHeaders: ReadonlySet<string> = new Set([
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
export const headerValueForbidden = /[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/;

/** An OAuth2 scope token (RFC 6749 3.3: 1*( %x21 / %x23-5B / %x5D-7E )). */
export const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Whether text is JSON that parses to an object (not an array, not a scalar). */
export function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
