import { Code, ConnectError } from "@connectrpc/connect";
import { CredbrokerError, type CredbrokerErrorCode } from "../errors.ts";
import { BadRequestSchema, ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.ts";

/** ErrorInfo's `domain` on every error the broker answers. */
const errorDomain = "credbroker";

const codes: Record<CredbrokerErrorCode, Code> = {
  ERR_INVALID_FIELD: Code.InvalidArgument,
  ERR_TOO_LARGE: Code.InvalidArgument,
  ERR_UNDECODABLE: Code.InvalidArgument,
  ERR_SECRET_NOT_FOUND: Code.NotFound,
  ERR_SECRET_EXISTS: Code.AlreadyExists,
  ERR_VERSION_MISMATCH: Code.Aborted,
  ERR_LIVE_DELETE: Code.FailedPrecondition,
  ERR_TYPE_CHANGE: Code.FailedPrecondition,
  ERR_STEP_NOT_SERVED: Code.FailedPrecondition,
  ERR_TARGET_REQUIRED: Code.FailedPrecondition,
  ERR_OAUTH_REJECTED: Code.FailedPrecondition,
  ERR_OAUTH_NOT_TOKEN_ENDPOINT: Code.FailedPrecondition,
  ERR_OAUTH_TOKEN_TYPE: Code.FailedPrecondition,
  ERR_STORED_FIELD_INVALID: Code.FailedPrecondition,
  ERR_KEYRING_CHANGED: Code.FailedPrecondition,
  ERR_NO_KEYRING: Code.FailedPrecondition,
  ERR_DATA_DIR_BUSY: Code.FailedPrecondition,
  ERR_SEAL_OPEN_FAILED: Code.DataLoss,
  ERR_MASTER_KEY_MISMATCH: Code.DataLoss,
  ERR_UNAUTHENTICATED: Code.Unauthenticated,
  ERR_PERMISSION_DENIED: Code.PermissionDenied,
  ERR_FOREIGN_ORIGIN: Code.PermissionDenied,
  ERR_UNKNOWN_SERVICE: Code.NotFound,
  ERR_UNAVAILABLE: Code.Unavailable,
  ERR_STORE_FULL: Code.ResourceExhausted,
  ERR_CENTRAL_UNAVAILABLE: Code.Unavailable,
  ERR_STORE_INCOMPATIBLE: Code.FailedPrecondition,
};

/** The codes whose field is a request field: those errors carry a google.rpc.BadRequest. */
const requestFieldCodes: ReadonlySet<CredbrokerErrorCode> = new Set(["ERR_INVALID_FIELD", "ERR_TOO_LARGE"]);

/**
 * The one mapping from errors to what a client sees, on every listener and
 * protocol. Domain errors keep their (value-free) message and become a
 * ConnectError with google.rpc.ErrorInfo (reason: the stable code) and, for
 * invalid input, google.rpc.BadRequest naming the field path; a
 * ConnectError raised by the protocol layer passes through, given an
 * ErrorInfo if it has none; anything else becomes a bare internal error, so
 * that a stray exception cannot carry a credential to a client.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof CredbrokerError) {
    return new ConnectError(error.message, codes[error.code], undefined, detailsOf(error));
  }
  if (error instanceof ConnectError) {
    return withErrorInfo(error);
  }
  return withErrorInfo(new ConnectError("internal error", Code.Internal));
}

/**
 * The reason of an error that is no domain error of the broker's (a
 * deadline, a cancellation, a body over the cap): `ERR_` and the code's
 * name, e.g. ERR_DEADLINE_EXCEEDED.
 */
function protocolReason(code: Code): string {
  return `ERR_${Code[code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase()}`;
}

/** Whether a code means the broker itself failed (logged at error level with the cause). */
export function isServerFault(code: Code): boolean {
  return code === Code.Internal || code === Code.Unknown || code === Code.DataLoss;
}

/** The details a ConnectError is made with (connect-es does not export the type's name). */
type OutgoingDetails = NonNullable<ConstructorParameters<typeof ConnectError>[3]>;

function detailsOf(error: CredbrokerError): OutgoingDetails {
  const metadata: Record<string, string> = { ...error.metadata };
  if (error.field !== undefined) {
    metadata["field"] = error.field;
  }
  const details: OutgoingDetails = [{ desc: ErrorInfoSchema, value: { reason: error.code, domain: errorDomain, metadata } }];
  if (error.field !== undefined && requestFieldCodes.has(error.code)) {
    details.push({
      desc: BadRequestSchema,
      value: { fieldViolations: [{ field: error.field, description: error.problem ?? error.message, reason: error.code }] },
    });
  }
  return details;
}

/** The error itself, with an ErrorInfo of its code's reason added when it carries none. */
function withErrorInfo(error: ConnectError): ConnectError {
  const hasInfo = error.details.some((detail) => ("desc" in detail ? detail.desc.typeName : detail.type) === ErrorInfoSchema.typeName);
  if (!hasInfo) {
    error.details.push({ desc: ErrorInfoSchema, value: { reason: protocolReason(error.code), domain: errorDomain } });
  }
  return error;
}
