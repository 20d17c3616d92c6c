import { once } from "node:events";
import type { Readable } from "node:stream";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { MethodImplSpec } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { toConnectError } from "../connect-error.ts";
import type { ConnectionGate } from "../connection-gate.ts";
import { CountedCall, type PeerSurface } from "./call-counter.ts";
import { CallScope, type ServerCallSurface } from "./call-scope.ts";
import { CallValues } from "./call-values.ts";
import { grpcStatusOf, undecodableError } from "./grpc-status.ts";
import { GrpcHandlerContext } from "./handler-context.ts";
import { MetadataHeaders } from "./metadata-headers.ts";
import { methodPath } from "./method-definition.ts";

/**
 * The grpc-js handler of a method of a service for probes and tools
 * (health, reflection): served as it is, streaming methods included and
 * without interceptors, since it needs no token and is no call worth a log
 * line; the HTTP listener serves them alike. Each call counts on its
 * connection in the gate until it ends (a Watch while it streams).
 */
export function createSystemHandler(spec: MethodImplSpec, gate: ConnectionGate, tls: boolean): grpc.UntypedHandleCall {
  const url = methodPath(spec.method);
  const start = (call: ServerCallSurface & PeerSurface) => {
    const scope = new CallScope(call, new CountedCall(gate, call, tls));
    const context = new GrpcHandlerContext(
      { service: spec.method.parent, method: spec.method, url, header: new MetadataHeaders(call.metadata), contextValues: new CallValues() },
      scope,
    );
    return { scope, context };
  };
  const output = spec.method.output;
  switch (spec.kind) {
    case "unary": {
      const { impl, method } = spec;
      return ((call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const { scope, context } = start(call);
        Promise.resolve()
          .then(() => impl(decode(method.input, call.request), context))
          .then(
            (answer) => callback(null, encode(output, answer)),
            (error: unknown) => callback(grpcStatusOf(toConnectError(error))),
          )
          .finally(() => scope.end());
      }) satisfies grpc.handleUnaryCall<Buffer, Uint8Array>;
    }
    case "server_streaming": {
      const { impl, method } = spec;
      return ((call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
        const { scope, context } = start(call);
        void pump(call, output, scope, () => impl(decode(method.input, call.request), context));
      }) satisfies grpc.handleServerStreamingCall<Buffer, Uint8Array>;
    }
    case "client_streaming": {
      const { impl, method } = spec;
      return ((call: grpc.ServerReadableStream<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const { scope, context } = start(call);
        Promise.resolve()
          .then(() => impl(decodeAll(method.input, call), context))
          .then(
            (answer) => callback(null, encode(output, answer)),
            (error: unknown) => callback(grpcStatusOf(toConnectError(error))),
          )
          .finally(() => scope.end());
      }) satisfies grpc.handleClientStreamingCall<Buffer, Uint8Array>;
    }
    case "bidi_streaming": {
      const { impl, method } = spec;
      return ((call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
        const { scope, context } = start(call);
        void pump(call, output, scope, () => impl(decodeAll(method.input, call), context));
      }) satisfies grpc.handleBidiStreamingCall<Buffer, Uint8Array>;
    }
  }
}

/** Writes what the implementation yields, with backpressure, then the status. */
async function pump(
  call: grpc.ServerWritableStream<Buffer, Uint8Array> | grpc.ServerDuplexStream<Buffer, Uint8Array>,
  output: DescMessage,
  scope: CallScope,
  produce: () => AsyncIterable<MessageInitShape<DescMessage>>,
): Promise<void> {
  const signal = scope.signal;
  try {
    for await (const message of produce()) {
      if (!call.write(encode(output, message))) {
        await once(call, "drain", { signal });
      }
    }
    call.end();
  } catch (error) {
    if (!signal.aborted) {
      call.emit("error", grpcStatusOf(toConnectError(error)));
    }
  } finally {
    // releases the deadline timer and what waits on the signal
    scope.end();
  }
}

async function* decodeAll(schema: DescMessage, call: Readable): AsyncIterable<MessageShape<DescMessage>> {
  for await (const bytes of call) {
    yield decode(schema, bytes as Buffer);
  }
}

function decode(schema: DescMessage, bytes: Buffer): MessageShape<DescMessage> {
  try {
    return fromBinary(schema, bytes);
  } catch {
    throw undecodableError(schema);
  }
}

function encode(schema: DescMessage, message: MessageInitShape<DescMessage>): Uint8Array {
  return toBinary(schema, create(schema, message));
}
