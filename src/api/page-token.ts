import { createHash } from "node:crypto";
import { invalidField } from "../errors.ts";

// A page token is opaque to clients. It carries a fingerprint of the
// listing it was issued for (mode, filter and order) and the position of
// the last secret served, so that a page picks up after it even when
// secrets were added or deleted in between, and a token replayed against
// another listing is refused instead of silently skipping secrets.
const prefix = "cb2";

/** The fingerprint of a listing: a digest of its canonical description (mode, filter, order). */
export function listingFingerprint(canonical: string): string {
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 16);
}

/** The token for the page after `position` (no ':' in it) in the listing of `fingerprint`. */
export function encodePageToken(fingerprint: string, position: string): string {
  return Buffer.from(`${prefix}:${fingerprint}:${position}`, "utf8").toString("base64url");
}

/** The position after which this token's page starts ("" for the first page); INVALID_ARGUMENT for a token of another listing. */
export function decodePageToken(fingerprint: string, token: string): string {
  if (token === "") {
    return "";
  }
  const parts = Buffer.from(token, "base64url").toString("utf8").split(":");
  if (parts.length !== 3 || parts[0] !== prefix || parts[1] !== fingerprint || parts[2] === "") {
    throw invalidField("pageToken", "is not a page token of this listing (same mode, filter and order)");
  }
  return parts[2] as string;
}
