import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { invalidField } from "../errors.ts";

// A page token is opaque to clients; it carries the mode it was issued for
// and the last name served, so that a page picks up after it even when
// secrets were added or deleted in between.
const prefix = "cb1";

/** The token for the page after `lastName` in `mode`. */
export function encodePageToken(mode: Mode, lastName: string): string {
  return Buffer.from(`${prefix}:${mode}:${lastName}`, "utf8").toString("base64url");
}

/** The last name served before this token; INVALID_ARGUMENT for a token not issued for this mode. */
export function decodePageToken(mode: Mode, token: string): string {
  if (token === "") {
    return "";
  }
  const parts = Buffer.from(token, "base64url").toString("utf8").split(":");
  if (parts.length !== 3 || parts[0] !== prefix || parts[1] !== String(mode) || parts[2] === "") {
    throw invalidField("pageToken", "is not a page token of this listing");
  }
  return parts[2] as string;
}
