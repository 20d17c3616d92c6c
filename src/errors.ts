/**
 * Domain errors. Every module throws these with a stable `code`; one
 * function (src/server/connect-error.ts) maps them to Connect codes and
 * error details (google.rpc.ErrorInfo, BadRequest). A message, a field
 * path and the metadata name fields, secrets and modes, never a credential
 * value.
 */

/** The stable codes of credbroker's domain errors: ErrorInfo's `reason` on the wire. */
export type CredbrokerErrorCode =
  /** A request field is missing or invalid; `field` names it. */
  | "ERR_INVALID_FIELD"
  /** A request field is larger than the broker accepts; `field` names it. */
  | "ERR_TOO_LARGE"
  /** The request body is not an encoded request message. */
  | "ERR_UNDECODABLE"
  /** The secret does not exist in that mode. */
  | "ERR_SECRET_NOT_FOUND"
  /** A secret of that name exists in that mode already. */
  | "ERR_SECRET_EXISTS"
  /** The secret's version is not the expected one, or it changed concurrently. */
  | "ERR_VERSION_MISMATCH"
  /** DeleteSecret in live mode, where secrets are only replaced by a deploy. */
  | "ERR_LIVE_DELETE"
  /** UpdateSecret with credentials of another type than the secret's. */
  | "ERR_TYPE_CHANGE"
  /** Inject asked for a step that the secret's type cannot serve. */
  | "ERR_STEP_NOT_SERVED"
  /** Inject of a DPoP-bound secret's HTTP step named no target to bind the proof to; `field` names it. */
  | "ERR_TARGET_REQUIRED"
  /** The token endpoint refused the client or the request with an OAuth error (e.g. invalid_client). */
  | "ERR_OAUTH_REJECTED"
  /** The token URL answered a client error without an OAuth error: it is likely not a token endpoint. */
  | "ERR_OAUTH_NOT_TOKEN_ENDPOINT"
  /** The token endpoint issued a token of a type the broker cannot use (DPoP, an unknown token_type). */
  | "ERR_OAUTH_TOKEN_TYPE"
  /** A stored credential field no longer passes a rule (a record from before the rule changed); `field` names it. */
  | "ERR_STORED_FIELD_INVALID"
  /** The stored keyring changed under this process (another process rotated or rekeyed it). */
  | "ERR_KEYRING_CHANGED"
  /** The data dir has no keyring yet: nothing to rekey. */
  | "ERR_NO_KEYRING"
  /** A broker and a rekey cannot hold the same data dir at once. */
  | "ERR_DATA_DIR_BUSY"
  /** A sealed record failed authentication (tampered, moved or wrong key). */
  | "ERR_SEAL_OPEN_FAILED"
  /** The master key does not open the keyring of an existing data dir. */
  | "ERR_MASTER_KEY_MISMATCH"
  /** The caller's token is missing or wrong. */
  | "ERR_UNAUTHENTICATED"
  /** The caller's token is valid but does not admit this call (e.g. an inject token of the other mode). */
  | "ERR_PERMISSION_DENIED"
  /** A web page of another origin (or a rebindable host name) called the HTTP listener. */
  | "ERR_FOREIGN_ORIGIN"
  /** A health check named a service that the broker does not serve. */
  | "ERR_UNKNOWN_SERVICE"
  /** An outside service (e.g. a token endpoint, the audit log) cannot be reached or used. */
  | "ERR_UNAVAILABLE"
  /** The store could not take a write (map or disk full). */
  | "ERR_STORE_FULL"
  /** Fleet mode: the central store (PostgreSQL) cannot be reached; writes are refused, reads keep serving from the replica. */
  | "ERR_CENTRAL_UNAVAILABLE"
  /** Fleet mode: the central store's schema is for newer brokers, or it already holds data an import would overwrite. */
  | "ERR_STORE_INCOMPATIBLE";

/**
 * What an error may say besides its message, as ErrorInfo metadata: names
 * of things (a mode, a secret name the broker accepted, a field path),
 * never a value.
 */
export interface ErrorMetadata {
  /** The mode of the secret concerned, `test` or `live`. */
  mode?: string;
  /** The secret concerned, a name that passed the name rule. */
  name?: string;
  /** The secrets concerned (DeploySecrets), comma-separated. */
  names?: string;
  /** The token endpoint's OAuth error code (RFC 6749, e.g. invalid_client), when it is one and echoes no secret. */
  oauthError?: string;
}

/** An error that the broker expects and maps to a clear answer. */
export class CredbrokerError extends Error {
  override name = "CredbrokerError";
  /** The stable code, for callers and tests; never parse the message. */
  readonly code: CredbrokerErrorCode;
  /** The field at fault: a request field for ERR_INVALID_FIELD and ERR_TOO_LARGE, a stored one for ERR_STORED_FIELD_INVALID. */
  readonly field: string | undefined;
  /** Why the field is at fault, without its path (the BadRequest violation's description). */
  readonly problem: string | undefined;
  /** Identifiers for ErrorInfo's metadata. */
  readonly metadata: ErrorMetadata;

  constructor(
    code: CredbrokerErrorCode,
    message: string,
    options: { cause?: unknown; field?: string; problem?: string; metadata?: ErrorMetadata } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.problem = options.problem;
    this.metadata = options.metadata ?? {};
  }
}

/** An invalid request field; the message says which field and why. */
export function invalidField(field: string, problem: string): CredbrokerError {
  return new CredbrokerError("ERR_INVALID_FIELD", `${field}: ${problem}`, { field, problem });
}

/** A request field over its size cap; the message says which field and the cap. */
export function fieldTooLarge(field: string, problem: string): CredbrokerError {
  return new CredbrokerError("ERR_TOO_LARGE", `${field}: ${problem}`, { field, problem });
}
