import type { DescMethod } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";

/**
 * A grpc-js method definition that moves bytes only: requests are decoded in
 * the handler, so that a malformed body answers INVALID_ARGUMENT rather than
 * grpc-js's INTERNAL, and answers arrive encoded.
 */
export function bytesMethodDefinition(method: DescMethod): grpc.MethodDefinition<Buffer, Uint8Array> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Uint8Array) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
    responseDeserialize: (bytes: Buffer) => bytes,
  };
}

/** `/credbroker.v1.InjectService/Inject`: the HTTP/2 path of a method. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}
