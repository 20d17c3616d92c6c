import { createContextKey, type ConnectError, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { isValidName } from "../api/validate-request.ts";
import type { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { toConnectError } from "./connect-error.ts";

/** The mode and names a request addresses, as its fields say; a malformed name is not echoed, it may be a misplaced value. */
export interface CallTarget {
  /** The request's `mode`, if it has one. */
  readonly mode: Mode | undefined;
  /** The request's `name`, if it has a non-empty one. */
  readonly name: string | undefined;
  /** The request's `names` (a deploy), if it has them. */
  readonly names: readonly string[] | undefined;
}

/**
 * What the log and the audit interceptor both say about a call, worked
 * out once: the method's full name, the target, and the error a client
 * sees, mapped by whichever interceptor meets the failure first.
 */
export interface CallRecord {
  /** `credbroker.v1.InjectService/Inject`. */
  readonly method: string;
  readonly target: CallTarget;
  /** The failure last mapped, and what it became. */
  failure: unknown;
  error: ConnectError | undefined;
}

const callRecordKey = createContextKey<CallRecord | undefined>(undefined, { description: "call record" });

const noTarget: CallTarget = { mode: undefined, name: undefined, names: undefined };

/** The call's record, made by the first interceptor that asks (methodName spares it building the name). */
export function callRecord(req: UnaryRequest | StreamRequest, methodName?: string): CallRecord {
  let record = req.contextValues.get(callRecordKey);
  if (record === undefined) {
    record = {
      method: methodName ?? `${req.service.typeName}/${req.method.name}`,
      target: req.stream ? noTarget : describeTarget(req.message),
      failure: undefined,
      error: undefined,
    };
    req.contextValues.set(callRecordKey, record);
  }
  return record;
}

/** The error a client sees for a failure of the call, through the one converter, mapped once. */
export function mappedError(record: CallRecord, failure: unknown): ConnectError {
  if (record.error === undefined || (failure !== record.failure && failure !== record.error)) {
    record.failure = failure;
    record.error = toConnectError(failure);
  }
  return record.error;
}

function describeTarget(message: unknown): CallTarget {
  const fields = message as { mode?: unknown; name?: unknown; names?: unknown };
  const mode = typeof fields.mode === "number" ? (fields.mode as Mode) : undefined;
  const name = typeof fields.name === "string" && fields.name !== "" ? safeName(fields.name) : undefined;
  const names = Array.isArray(fields.names) ? fields.names.map(safeName) : undefined;
  return mode === undefined && name === undefined && names === undefined ? noTarget : { mode, name, names };
}

function safeName(name: unknown): string {
  return typeof name === "string" && isValidName(name) ? name : "(invalid)";
}
