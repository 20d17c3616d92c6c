import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { grpcPeer, peerKey } from "./call-context.ts";
import { CredbrokerError } from "../errors.ts";
import { headersFromMetadata, metadataFromHeaders } from "./grpc-metadata.ts";
import { bytesMethodDefinition } from "./grpc-plain-service.ts";
import { toGrpcStatus } from "./grpc-status.ts";

/** The call's deadline in epoch milliseconds (Infinity when none), for HandlerContext.timeoutMs. */
const deadlineKey = createContextKey<number>(Number.POSITIVE_INFINITY, { description: "grpc deadline" });

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
    definition[method.name] = bytesMethodDefinition(path, method);
    const methodImpl = impl[method.localName] as (req: unknown, ctx: HandlerContext) => unknown;
    const invoke = applyInterceptors(async (req: UnaryRequest): Promise<UnaryResponse> => {
      const context = grpcHandlerContext(req);
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
    let message;
    try {
      message = fromBinary(method.input, call.request);
    } catch {
      callback(toGrpcStatus(new CredbrokerError("ERR_UNDECODABLE", `cannot decode ${method.input.typeName}`)));
      return;
    }
    const deadline = Number(call.getDeadline());
    if (deadline <= Date.now()) {
      // an answer after the deadline is one the client has stopped waiting for
      callback(toGrpcStatus(new ConnectError("the deadline was exceeded", Code.DeadlineExceeded)));
      return;
    }
    // the signal is made when first asked for: most calls (a cached Inject) never look at it
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const signal = () => {
      if (controller === undefined) {
        const made = new AbortController();
        controller = made;
        call.once("cancelled", () => {
          if (!finished) {
            made.abort(new ConnectError("the client cancelled the call", Code.Canceled));
          }
        });
        if (Number.isFinite(deadline)) {
          timer = setTimeout(
            () => made.abort(new ConnectError("the deadline was exceeded", Code.DeadlineExceeded)),
            Math.max(0, deadline - Date.now()),
          );
        }
      }
      return controller.signal;
    };
    invoke({
      stream: false,
      service,
      method,
      requestMethod: "POST",
      url: path,
      get signal() {
        return signal();
      },
      header: headersFromMetadata(call.metadata),
      contextValues: (Number.isFinite(deadline) ? createContextValues().set(deadlineKey, deadline) : createContextValues()).set(
        peerKey,
        () => grpcPeer(call),
      ),
      message,
    }).then(
      (res) => {
        finished = true;
        clearTimeout(timer);
        const header = metadataFromHeaders(res.header);
        if (header !== undefined) {
          call.sendMetadata(header);
        }
        callback(null, encode(method.output, res.message), metadataFromHeaders(res.trailer));
      },
      (error: unknown) => {
        finished = true;
        clearTimeout(timer);
        callback(toGrpcStatus(error));
      },
    );
  };
}

/**
 * The HandlerContext of a gRPC call. Built by hand rather than with
 * createHandlerContext, which copies the request headers and links two
 * AbortControllers per call: measurable on the hot path. Response headers
 * and trailers are made when first used.
 */
function grpcHandlerContext(req: UnaryRequest): HandlerContext {
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  return {
    service: req.service,
    method: req.method,
    signal: req.signal,
    timeoutMs() {
      const deadline = req.contextValues.get(deadlineKey);
      return Number.isFinite(deadline) ? deadline - Date.now() : undefined;
    },
    requestMethod: req.requestMethod,
    requestHeader: req.header,
    get responseHeader() {
      return (responseHeader ??= new Headers());
    },
    get responseTrailer() {
      return (responseTrailer ??= new Headers());
    },
    protocolName: "grpc",
    values: req.contextValues,
    url: req.url,
  };
}

/** Encodings of frozen response messages: a frozen message cannot change, so its bytes can be reused. */
const encodings = new WeakMap<object, Uint8Array>();

function encode(schema: DescMessage, message: MessageShape<DescMessage>): Uint8Array {
  if (!Object.isFrozen(message)) {
    return toBinary(schema, message);
  }
  let bytes = encodings.get(message);
  if (bytes === undefined) {
    bytes = toBinary(schema, message);
    encodings.set(message, bytes);
  }
  return bytes;
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
