import { create, fromBinary, toBinary, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/** What a classic gRPC call answered. */
export type GrpcResult<O extends DescMessage> =
  | { ok: true; message: MessageShape<O> }
  | { ok: false; code: grpc.status; details: string; metadata: grpc.Metadata };

/**
 * A classic @grpc/grpc-js client for a protobuf-es service descriptor, the
 * way a step runner builds one: a generic client with toBinary/fromBinary.
 */
export function createGrpcJsClient(service: DescService, address: string, token?: string) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return {
    call<I extends DescMessage, O extends DescMessage>(
      methodName: string,
      input: I,
      output: O,
      request: MessageInitShape<I>,
      options: { token?: string; metadata?: Record<string, string> } = {},
    ): Promise<GrpcResult<O>> {
      const metadata = new grpc.Metadata();
      const bearer = options.token ?? token;
      if (bearer !== undefined) {
        metadata.set("authorization", `Bearer ${bearer}`);
      }
      for (const [key, value] of Object.entries(options.metadata ?? {})) {
        metadata.set(key, value);
      }
      return new Promise((resolve) => {
        client.makeUnaryRequest(
          `/${service.typeName}/${methodName}`,
          (message: MessageShape<I>) => Buffer.from(toBinary(input, message)),
          (bytes: Buffer) => fromBinary(output, bytes),
          create(input, request),
          metadata,
          (error, message) => {
            if (error !== null) {
              // the trailers: grpc-status-details-bin among them
              resolve({ ok: false, code: error.code, details: error.details, metadata: error.metadata });
            } else {
              resolve({ ok: true, message: message as MessageShape<O> });
            }
          },
        );
      });
    },
    close: () => client.close(),
  };
}
