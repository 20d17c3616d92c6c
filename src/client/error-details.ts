import { ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.ts";

/** ErrorInfo's `domain` on the broker's errors. */
const brokerDomain = "credbroker";

/** A request field at fault, from google.rpc.BadRequest. */
export interface FieldViolation {
  /** The field path, JSON names: `credentials.apiKey.keyName`, `names[2]`. */
  readonly field: string;
  /** Why the field is at fault ("must be a valid HTTP header name"), never its value. */
  readonly description: string;
}

/** What a broker error says besides its code and message, read from its details. */
export interface BrokerErrorDetails {
  /** The stable reason (`ERR_SECRET_NOT_FOUND`, ...); undefined when the error did not come from the broker (a proxy, the network). */
  readonly reason: string | undefined;
  /** ErrorInfo's metadata: identifiers such as `mode`, `name` and `field`, never a value. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The request fields at fault, for invalid input. */
  readonly fieldViolations: readonly FieldViolation[];
}

/**
 * The google.rpc.ErrorInfo (domain `credbroker`) and google.rpc.BadRequest
 * of an error a broker client threw, over any protocol: what a caller
 * should branch on, rather than the message text.
 */
export function brokerErrorDetails(error: unknown): BrokerErrorDetails {
  const err = ConnectError.from(error);
  const info = err.findDetails(ErrorInfoSchema).find((candidate) => candidate.domain === brokerDomain);
  const fieldViolations = err
    .findDetails(BadRequestSchema)
    .flatMap((badRequest) => badRequest.fieldViolations.map(({ field, description }) => ({ field, description })));
  return { reason: info?.reason, metadata: info?.metadata ?? {}, fieldViolations };
}
