import { create, fromBinary, toBinary, type DescMethodUnary, type DescService, type MessageShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { encodedAnswerKey } from "../../api/encoded-answer.ts";
import { deadlineKey, grpcPeer, peerKey } from "../call-context.ts";
import { callRecord, mappedError } from "../call-record.ts";
import type { ConnectionGate } from "../connection-gate.ts";
import { CountedCall } from "./call-counter.ts";
import { CallScope } from "./call-scope.ts";
import { CallValues } from "./call-values.ts";
import { grpcStatusOf, undecodableStatus } from "./grpc-status.ts";
import { GrpcHandlerContext } from "./handler-context.ts";
import { MetadataHeaders, metadataOf } from "./metadata-headers.ts";
import { methodPath } from "./method-definition.ts";

/** The function each interceptor wraps. */
type Next = (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;

/** The call's scope, for the handler context made at the end of the chain from whatever request reaches it. */
const scopeKey = createContextKey<CallScope | undefined>(undefined, { description: "grpc call scope" });

/** A gRPC call as the interceptors see it: the metadata read in place, the signal made when asked for. */
class GrpcUnaryRequest implements UnaryRequest {
  readonly stream = false;
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly url: string;
  readonly header: Headers;
  readonly contextValues: CallValues;
  readonly message: MessageShape<DescMethodUnary["input"]>;
  private readonly scope: CallScope;

  constructor(
    method: DescMethodUnary,
    url: string,
    call: grpc.ServerUnaryCall<Buffer, Uint8Array>,
    counted: CountedCall,
    message: MessageShape<DescMethodUnary["input"]>,
  ) {
    this.service = method.parent;
    this.method = method;
    this.url = url;
    this.header = new MetadataHeaders(call.metadata);
    this.message = message;
    this.scope = new CallScope(call, counted);
    this.contextValues = new CallValues()
      .set(scopeKey, this.scope)
      .set(deadlineKey, this.scope.deadline)
      .set(peerKey, () => grpcPeer(counted));
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  /** The call is answered. */
  end(): void {
    this.scope.end();
  }
}

/** An answer whose header and trailer are the handler context's, made only if written. */
class GrpcUnaryResponse implements UnaryResponse {
  readonly stream = false;
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly message: MessageShape<DescMethodUnary["output"]>;
  readonly context: GrpcHandlerContext;

  constructor(method: DescMethodUnary, context: GrpcHandlerContext, message: MessageShape<DescMethodUnary["output"]>) {
    this.service = method.parent;
    this.method = method;
    this.context = context;
    this.message = message;
  }

  get header(): Headers {
    return this.context.responseHeader;
  }

  get trailer(): Headers {
    return this.context.responseTrailer;
  }
}

/**
 * The grpc-js handler of a unary method of an API service: the request is
 * decoded first (a body that does not decode answers INVALID_ARGUMENT before
 * any interceptor runs, as connect-node answers it), then the same
 * interceptors as on the HTTP listener run, then the implementation. An
 * answer that its service holds encoded (see encodedAnswerKey) is sent as
 * those bytes; errors arrive mapped by the log interceptor and are mapped
 * no further. Each call counts on its connection in the gate until it ends.
 * `tls` says whether the listener's connections are TLS ones, whose client
 * certificates the audit reads.
 */
export function createUnaryHandler(
  { method, impl }: Extract<MethodImplSpec, { kind: "unary" }>,
  interceptors: readonly Interceptor[],
  gate: ConnectionGate,
  tls: boolean,
): grpc.handleUnaryCall<Buffer, Uint8Array> {
  const url = methodPath(method);
  // not async: an implementation that answers at once (a cached Inject) costs one promise here, not an await as well
  const inner: Next = (req) => {
    try {
      const scope = req.contextValues.get(scopeKey);
      if (req.stream || scope === undefined) {
        throw new ConnectError(`${url}: the request is not this listener's unary call`, Code.Internal);
      }
      const context = new GrpcHandlerContext(req, scope);
      const output = impl(req.message, context);
      const respond = (init: Awaited<typeof output>) => new GrpcUnaryResponse(method, context, create(method.output, init));
      return output instanceof Promise ? output.then(respond) : Promise.resolve(respond(output));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const invoke = interceptors.reduceRight<Next>((next, interceptor) => interceptor(next), inner);
  return (call, callback) => {
    const counted = new CountedCall(gate, call, tls);
    let message;
    try {
      message = fromBinary(method.input, call.request);
    } catch {
      counted.release();
      callback(undecodableStatus(method.input));
      return;
    }
    const req = new GrpcUnaryRequest(method, url, call, counted, message);
    invoke(req).then(
      (res) => {
        req.end();
        let bytes: Uint8Array;
        let trailer: grpc.Metadata | undefined;
        try {
          if (res.stream) {
            throw new ConnectError(`${url}: a stream answered a unary call`, Code.Internal);
          }
          const header = res instanceof GrpcUnaryResponse ? res.context.writtenHeader : res.header;
          const sent = header === undefined ? undefined : metadataOf(header);
          if (sent !== undefined) {
            call.sendMetadata(sent);
          }
          // the service's own encoding, when it is of this very message
          const ready = req.contextValues.get(encodedAnswerKey);
          bytes = ready?.encoded !== undefined && ready.response === res.message ? ready.encoded : toBinary(method.output, res.message);
          const written = res instanceof GrpcUnaryResponse ? res.context.writtenTrailer : res.trailer;
          trailer = written === undefined ? undefined : metadataOf(written);
        } catch (error) {
          // an answer that cannot be sent (no interceptor of ours makes one): the client sees INTERNAL
          callback(grpcStatusOf(mappedError(callRecord(req), error)));
          return;
        }
        callback(null, bytes, trailer);
      },
      (error: unknown) => {
        req.end();
        callback(grpcStatusOf(mappedError(callRecord(req), error)));
      },
    );
  };
}
