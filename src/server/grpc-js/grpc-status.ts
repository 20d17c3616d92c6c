import type { DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { CredbrokerError } from "../../errors.ts";
import { toConnectError } from "../connect-error.ts";
import { statusDetailsBytes, statusDetailsKey } from "../status-details.ts";
import { metadataOf } from "./metadata-headers.ts";

/**
 * The status a grpc-js handler answers for an error that the one converter
 * (toConnectError) mapped: code, message, the error's metadata, and its
 * details as a google.rpc.Status of Any-packed messages in
 * grpc-status-details-bin, the bytes that connect-node sends on the HTTP
 * listener.
 */
export function grpcStatusOf(error: ConnectError): Partial<grpc.StatusObject> & { code: grpc.status } {
  const metadata = metadataOf(error.metadata) ?? new grpc.Metadata();
  metadata.set(statusDetailsKey, Buffer.from(statusDetailsBytes(error)));
  return { code: error.code as number as grpc.status, details: error.rawMessage, metadata };
}

/** A body that does not decode: bad input (INVALID_ARGUMENT), answered before any interceptor, as connect-node answers it on the HTTP listener. */
export function undecodableError(schema: DescMessage): CredbrokerError {
  return new CredbrokerError("ERR_UNDECODABLE", `cannot decode ${schema.typeName}`);
}

/** The status of undecodableError. */
export function undecodableStatus(schema: DescMessage): Partial<grpc.StatusObject> & { code: grpc.status } {
  return grpcStatusOf(toConnectError(undecodableError(schema)));
}
