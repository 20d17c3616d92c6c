import { once } from "node:events";
import type { Readable } from "node:stream";
import { create, fromBinary, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { ServiceRegistration } from "./grpc-adapter.ts";
import { CredbrokerError } from "../errors.ts";
import { headersFromMetadata } from "./grpc-metadata.ts";
import { toGrpcStatus } from "./grpc-status.ts";

type AnyImpl = (input: unknown, context: HandlerContext) => unknown;

/** A HandlerContext that its creator can abort, as createHandlerContext returns it. */
type HandlerContextController = ReturnType<typeof createHandlerContext>;

/** What every kind of grpc-js server call has. */
interface CallSurface {
  readonly metadata: grpc.Metadata;
  getDeadline(): grpc.Deadline;
  once(event: "cancelled", listener: () => void): unknown;
}

/**
 * Serves a Connect ServiceImpl on a @grpc/grpc-js server as it is, streaming
 * methods included and without interceptors: for health and reflection,
 * which need no token and are not on the hot path (the API services go
 * through grpc-adapter.ts).
 */
export function addPlainService(server: grpc.Server, { service, impl }: ServiceRegistration): void {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    definition[method.name] = bytesMethodDefinition(path, method);
    const run = (impl[method.localName] as AnyImpl).bind(impl);
    handlers[method.name] = createHandler(method, path, run);
  }
  server.addService(definition as grpc.ServiceDefinition, handlers);
}

/**
 * A grpc-js method definition that moves bytes only: requests are decoded in
 * the handler, so that a malformed body answers INVALID_ARGUMENT rather than
 * grpc-js's INTERNAL, and answers arrive encoded.
 */
export function bytesMethodDefinition(path: string, method: DescMethod): grpc.MethodDefinition<Buffer, Uint8Array> {
  return {
    path,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    responseDeserialize: (bytes: Buffer) => bytes,
  };
}

function createHandler(method: DescMethod, path: string, run: AnyImpl): grpc.UntypedHandleCall {
  const start = (call: CallSurface) => {
    const controller = new AbortController();
    call.once("cancelled", () => controller.abort(new ConnectError("the client cancelled the call", Code.Canceled)));
    const deadline = Number(call.getDeadline());
    return createHandlerContext({
      service: method.parent,
      method,
      protocolName: "grpc",
      requestMethod: "POST",
      url: path,
      requestSignal: controller.signal,
      requestHeader: headersFromMetadata(call.metadata),
      ...(Number.isFinite(deadline) ? { timeoutMs: Math.max(0, deadline - Date.now()) } : {}),
    });
  };
  switch (method.methodKind) {
    case "unary":
      return ((call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const context = start(call);
        Promise.resolve()
          .then(() => run(decode(method.input, call.request), context))
          .then(
            (output) => callback(null, encode(method.output, output)),
            (error: unknown) => callback(toGrpcStatus(error)),
          )
          .finally(() => context.abort());
      }) as grpc.handleUnaryCall<Buffer, Uint8Array>;
    case "server_streaming":
      return ((call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
        const context = start(call);
        void pump(call, method.output, context, () => run(decode(method.input, call.request), context) as AsyncIterable<unknown>);
      }) as grpc.handleServerStreamingCall<Buffer, Uint8Array>;
    case "client_streaming":
      return ((call: grpc.ServerReadableStream<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        const context = start(call);
        Promise.resolve()
          .then(() => run(decodeAll(method.input, call), context))
          .then(
            (output) => callback(null, encode(method.output, output)),
            (error: unknown) => callback(toGrpcStatus(error)),
          )
          .finally(() => context.abort());
      }) as grpc.handleClientStreamingCall<Buffer, Uint8Array>;
    case "bidi_streaming":
      return ((call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
        const context = start(call);
        void pump(call, method.output, context, () => run(decodeAll(method.input, call), context) as AsyncIterable<unknown>);
      }) as grpc.handleBidiStreamingCall<Buffer, Uint8Array>;
  }
}

/** Writes what the implementation yields, with backpressure, then the status. */
async function pump(
  call: grpc.ServerWritableStream<Buffer, Uint8Array> | grpc.ServerDuplexStream<Buffer, Uint8Array>,
  output: DescMessage,
  context: HandlerContextController,
  produce: () => AsyncIterable<unknown>,
): Promise<void> {
  try {
    for await (const message of produce()) {
      if (!call.write(encode(output, message))) {
        await once(call, "drain", { signal: context.signal });
      }
    }
    call.end();
  } catch (error) {
    if (!context.signal.aborted) {
      call.emit("error", toGrpcStatus(error));
    }
  } finally {
    // releases the deadline timer
    context.abort();
  }
}

async function* decodeAll(schema: DescMessage, call: Readable): AsyncIterable<unknown> {
  for await (const bytes of call) {
    yield decode(schema, bytes as Buffer);
  }
}

function decode(schema: DescMessage, bytes: Buffer): unknown {
  try {
    return fromBinary(schema, bytes);
  } catch {
    throw new CredbrokerError("ERR_UNDECODABLE", `cannot decode ${schema.typeName}`);
  }
}

function encode(schema: DescMessage, message: unknown): Uint8Array {
  return toBinary(schema, create(schema, message as never));
}
