import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { StatusSchema } from "../gen/google/rpc/status_pb.ts";

/** The trailer that carries a google.rpc.Status with the error details, as grpc-go and grpcio read it. */
export const statusDetailsKey = "grpc-status-details-bin";

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
