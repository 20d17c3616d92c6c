/**
 * Domain errors. Every module throws these with a stable `code`; one
 * function (src/server/connect-error.ts) maps them to Connect codes. A
 * message names fields, secrets and modes, never a credential value.
 */

/** The stable codes of credbroker's domain errors. */
export type CredbrokerErrorCode =
  /** A request field is missing or invalid; `field` names it. */
  | "ERR_INVALID_FIELD"
  /** A request or a field is larger than the broker accepts. */
  | "ERR_TOO_LARGE"
  /** The secret does not exist in that mode. */
  | "ERR_SECRET_NOT_FOUND"
  /** A secret of that name exists in that mode already. */
  | "ERR_SECRET_EXISTS"
  /** The secret's version is not the expected one. */
  | "ERR_VERSION_MISMATCH"
  /** Inject of a DPoP-bound secret's HTTP step named no target to bind the proof to; `field` names it. */
  | "ERR_TARGET_REQUIRED"
  /** The operation is not allowed in the secret's state or mode. */
  | "ERR_FAILED_PRECONDITION"
  /** The operation exists in the contract but not in this build yet. */
  | "ERR_UNIMPLEMENTED"
  /** A sealed record failed authentication (tampered, moved or wrong key). */
  | "ERR_SEAL_OPEN_FAILED"
  /** The master key does not open the keyring of an existing data dir. */
  | "ERR_MASTER_KEY_MISMATCH"
  /** The caller's token is missing or wrong. */
  | "ERR_UNAUTHENTICATED"
  /** The caller's token is valid but does not admit this call (e.g. an inject token of the other mode). */
  | "ERR_PERMISSION_DENIED"
  /** An outside service (e.g. a token endpoint) cannot be reached. */
  | "ERR_UNAVAILABLE"
  /** The store could not take a write (map or disk full). */
  | "ERR_STORE_FULL";

/** An error that the broker expects and maps to a clear answer. */
export class CredbrokerError extends Error {
  override name = "CredbrokerError";
  /** The stable code, for callers and tests; never parse the message. */
  readonly code: CredbrokerErrorCode;
  /** The request field at fault, for ERR_INVALID_FIELD and ERR_TOO_LARGE. */
  readonly field: string | undefined;

  constructor(
    code: CredbrokerErrorCode,
    message: string,
    options: { cause?: unknown; field?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** An invalid request field; the message says which field and why. */
export function invalidField(field: string, problem: string): CredbrokerError {
  return new CredbrokerError("ERR_INVALID_FIELD", `${field}: ${problem}`, { field });
}
