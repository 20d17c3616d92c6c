/**
 * The rules of valid request input outside the credentials, as plain
 * patterns and limits with no Node.js import: the server's checks
 * (validate-request.ts) and the admin page's form checks (ui/src/validate.ts)
 * both use these, so the page cannot drift from what the broker accepts.
 * The credential fields' rules are the registry's (src/credentials/).
 */

/** A secret name: 1-63 of [a-z0-9._-], starting with a letter or digit. */
export const namePattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;

// checkSize caps any request field at the credential fields' size
export { maxFieldBytes } from "../credentials/field-checks.ts";

/** The largest description the broker takes, in characters. */
export const maxDescriptionLength = 1024;

/** Control characters a description may not hold (tab and newline are fine). */
// eslint-disable-next-line no-control-regex
export const descriptionControlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f]/;
