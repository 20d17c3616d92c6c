import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { StatusSchema } from "../gen/google/rpc/status_pb.ts";
import { toConnectError } from "./connect-error.ts";
import { metadataFromHeaders } from "./grpc-metadata.ts";

/** The trailer that carries a google.rpc.Status with the error details, as grpc-go and grpcio read it. */
export const statusDetailsKey = "grpc-status-details-bin";

/**
 * Any error as the status a grpc-js handler answers, through the one
 * converter (toConnectError): code, message, the error's metadata, and its
 * details as a google.rpc.Status of Any-packed messages in
 * grpc-status-details-bin, the bytes that connect-node sends on the HTTP
 * listener.
 */
export function toGrpcStatus(error: unknown): Partial<grpc.StatusObject> & { code: grpc.status } {
  const connectError = toConnectError(error);
  const metadata = metadataFromHeaders(connectError.metadata) ?? new grpc.Metadata();
  metadata.set(statusDetailsKey, Buffer.from(statusDetailsBytes(connectError)));
  return { code: connectError.code as number as grpc.status, details: connectError.rawMessage, metadata };
}

/** The google.rpc.Status of an error: code, message, and its details packed in Any. */
export function statusDetailsBytes(error: ConnectError): Uint8Array {
  return toBinary(
    StatusSchema,
    create(StatusSchema, {
      code: error.code,
      message: error.rawMessage,
      details: error.details.map((detail) =>
        "desc" in detail
          ? anyPack(detail.desc, create(detail.desc, detail.value))
          : { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value },
      ),
    }),
  );
}
