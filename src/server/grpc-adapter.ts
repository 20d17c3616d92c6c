import { create, fromBinary, toBinary, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  type Interceptor,
  type ServiceImpl,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";

/** A service descriptor with its implementation. */
export interface ServiceRegistration {
  readonly service: DescService;
  readonly impl: ServiceImpl<DescService>;
}

/** Pairs a service with its implementation, checked against each other. */
export function registration<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceRegistration {
  return { service, impl: impl as unknown as ServiceImpl<DescService> };
}

/**
 * Serves a Connect ServiceImpl on a @grpc/grpc-js server, running the same
 * interceptors that the Connect listener runs. Requests are decoded in the
 * handler (not by grpc-js) so that a malformed body answers INVALID_ARGUMENT.
 */
export function addConnectService(
  server: grpc.Server,
  { service, impl }: ServiceRegistration,
  interceptors: readonly Interceptor[],
): void {
  const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const described of service.methods) {
    if (described.methodKind !== "unary") {
      throw new Error(`${service.typeName}/${described.name}: only unary methods are served over grpc-js`);
    }
    const method = described as DescMethodUnary;
    const path = `/${service.typeName}/${method.name}`;
    definition[method.name] = {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (bytes: Buffer) => bytes,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      responseDeserialize: (bytes: Buffer) => bytes,
    };
    const methodImpl = impl[method.localName] as (req: unknown, ctx: unknown) => unknown;
    const invoke = applyInterceptors(async (req: UnaryRequest): Promise<UnaryResponse> => {
      const context = createHandlerContext({
        service,
        method,
        protocolName: "grpc",
        requestMethod: "POST",
        url: req.url,
        requestHeader: req.header,
        requestSignal: req.signal,
        contextValues: req.contextValues,
      });
      const output = await methodImpl(req.message, context);
      return {
        stream: false,
        service,
        method,
        header: context.responseHeader,
        trailer: context.responseTrailer,
        message: create(method.output, output as never),
      };
    }, interceptors);
    handlers[method.name] = createUnaryHandler(service, method, path, invoke);
  }
  server.addService(definition as grpc.ServiceDefinition, handlers);
}

function createUnaryHandler(
  service: DescService,
  method: DescMethodUnary,
  path: string,
  invoke: (req: UnaryRequest) => Promise<UnaryResponse>,
): grpc.handleUnaryCall<Buffer, Uint8Array> {
  return (call, callback) => {
    const abort = new AbortController();
    call.on("cancelled", () => abort.abort(new ConnectError("the client cancelled the call", Code.Canceled)));
    const deadline = call.getDeadline();
    const timeoutMs = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline - Date.now();
    const signal = Number.isFinite(timeoutMs)
      ? AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(0, timeoutMs))])
      : abort.signal;
    let message;
    try {
      message = fromBinary(method.input, call.request);
    } catch {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode ${method.input.typeName}` });
      return;
    }
    invoke({
      stream: false,
      service,
      method,
      requestMethod: "POST",
      url: path,
      signal,
      header: headersFromMetadata(call.metadata),
      contextValues: createContextValues(),
      message,
    }).then(
      (res) => {
        call.sendMetadata(metadataFromHeaders(res.header));
        callback(null, toBinary(method.output, res.message), metadataFromHeaders(res.trailer));
      },
      (error: unknown) => {
        const connectError = ConnectError.from(error);
        callback({
          code: connectError.code as number as grpc.status,
          details: connectError.rawMessage,
          metadata: metadataFromHeaders(connectError.metadata),
        });
      },
    );
  };
}

function applyInterceptors(
  inner: (req: UnaryRequest) => Promise<UnaryResponse>,
  interceptors: readonly Interceptor[],
): (req: UnaryRequest) => Promise<UnaryResponse> {
  return interceptors.reduceRight(
    (next, interceptor) => interceptor(next as never) as never,
    inner,
  );
}

function headersFromMetadata(metadata: grpc.Metadata): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === "string") {
      try {
        headers.append(key, value);
      } catch {
        // a value that fetch's Headers refuses cannot be a token we accept
      }
    }
  }
  return headers;
}

function metadataFromHeaders(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => metadata.add(key, value));
  return metadata;
}
