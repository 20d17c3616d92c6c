import { Code, ConnectError } from "@connectrpc/connect";
import { CredbrokerError, type CredbrokerErrorCode } from "../errors.ts";

const codes: Record<CredbrokerErrorCode, Code> = {
  ERR_INVALID_FIELD: Code.InvalidArgument,
  ERR_TOO_LARGE: Code.InvalidArgument,
  ERR_SECRET_NOT_FOUND: Code.NotFound,
  ERR_SECRET_EXISTS: Code.AlreadyExists,
  ERR_VERSION_MISMATCH: Code.Aborted,
  ERR_FAILED_PRECONDITION: Code.FailedPrecondition,
  ERR_TARGET_REQUIRED: Code.FailedPrecondition,
  ERR_UNIMPLEMENTED: Code.Unimplemented,
  ERR_SEAL_OPEN_FAILED: Code.DataLoss,
  ERR_MASTER_KEY_MISMATCH: Code.DataLoss,
  ERR_UNAUTHENTICATED: Code.Unauthenticated,
  ERR_PERMISSION_DENIED: Code.PermissionDenied,
  ERR_UNAVAILABLE: Code.Unavailable,
  ERR_STORE_FULL: Code.ResourceExhausted,
};

/**
 * The one mapping from errors to what a client sees. Domain errors keep
 * their (value-free) message; a ConnectError raised by the protocol layer
 * passes through; anything else becomes a bare internal error, so that a
 * stray exception cannot carry a credential to a client.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof CredbrokerError) {
    return new ConnectError(error.message, codes[error.code]);
  }
  if (error instanceof ConnectError) {
    return error;
  }
  return new ConnectError("internal error", Code.Internal);
}

/** Whether a code means the broker itself failed (logged at error level with the cause). */
export function isServerFault(code: Code): boolean {
  return code === Code.Internal || code === Code.Unknown || code === Code.DataLoss;
}
