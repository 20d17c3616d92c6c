import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { nodePeer } from "./call-context.ts";

/** What the guard reads of a request: the part node:http's and node:http2's compatibility API share. */
export interface GuardedRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** HTTP/2 only: `:authority`, else the Host header. */
  readonly authority?: string | undefined;
  readonly socket: Parameters<typeof nodePeer>[0];
}

/** What the guard uses of a response, shared by node:http and node:http2. */
export interface GuardedResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  end(): unknown;
  end(body: Uint8Array): unknown;
  destroy(): unknown;
}

/** Where the guard reports refused requests and failed handlers. */
export interface RequestGuardLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Options of guardRequests. */
export interface RequestGuardOptions {
  /** Names the listener in log lines: "http" or "metrics". */
  listener: string;
  /** Told of every refused request and every failed handler; undefined: nobody is. */
  logger: RequestGuardLogger | undefined;
}

/** How an error is answered in each protocol. */
interface ErrorKind {
  httpStatus: number;
  connectCode: string;
  grpcStatus: number;
}

const invalidArgument: ErrorKind = { httpStatus: 400, connectCode: "invalid_argument", grpcStatus: 3 };
const internal: ErrorKind = { httpStatus: 500, connectCode: "internal", grpcStatus: 13 };

/** A Host (RFC 9110 uri-host [":" port]): an IP literal or a reg-name, no userinfo, path, query or fragment. */
const hostGrammar = /^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/;

/**
 * The request listener a node server calls: nothing a request carries can
 * throw out of it and end the process. connect-node builds `new URL()` from
 * the Host (or `:authority`) synchronously and throws on one it cannot parse
 * or on none at all, before any interceptor runs; such a request is answered
 * here instead, as the protocol it speaks says INVALID_ARGUMENT (HTTP 400
 * for anything but gRPC and Connect streams). Whatever else the handler
 * throws or rejects with is logged and answered as an internal error, or
 * ends the stream when the answer has begun.
 */
export function guardRequests<Req extends GuardedRequest, Res extends GuardedResponse>(
  handler: (req: Req, res: Res) => unknown,
  options: RequestGuardOptions,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const problem = requestProblem(req);
    if (problem !== undefined) {
      options.logger?.warn({ listener: options.listener, ...describeRequest(req), problem }, "refused a malformed request");
      answerError(req, res, invalidArgument, problem);
      return;
    }
    const fail = (error: unknown) => {
      options.logger?.error({ listener: options.listener, ...describeRequest(req), err: error }, "request handler failed");
      answerError(req, res, internal, "internal error");
    };
    try {
      const result = handler(req, res);
      if (result instanceof Promise) {
        result.catch(fail);
      }
    } catch (error) {
      fail(error);
    }
  };
}

/** Why a request cannot be served (its Host), or undefined when it can. */
function requestProblem(req: GuardedRequest): string | undefined {
  const authority = "authority" in req ? req.authority : req.headers.host;
  if (authority === undefined || authority === "") {
    return "the request names no host (Host header or :authority)";
  }
  if (!hostGrammar.test(authority) || !URL.canParse(`http://${authority}/`)) {
    return "the Host (or :authority) is not a valid host[:port]";
  }
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === "host") {
      hosts++;
    }
  }
  return hosts > 1 ? "the request has more than one Host header" : undefined;
}

/** What a log line says of a request: never a header value, which may be a token, nor the query. */
function describeRequest(req: GuardedRequest): Record<string, unknown> {
  const url = req.url ?? "";
  const query = url.indexOf("?");
  return {
    method: (req.method ?? "").slice(0, 32),
    path: (query === -1 ? url : url.slice(0, query)).slice(0, 256),
    httpVersion: req.httpVersion,
    peer: nodePeer(req.socket).address,
  };
}

/**
 * Answers an error in the request's protocol: gRPC and gRPC-Web as a
 * trailers-only response, a Connect stream as an end-of-stream message,
 * anything else with the HTTP status and a Connect error body. Over
 * HTTP/1.x the connection is closed afterwards, since nothing is known
 * about the rest of what it carries.
 */
function answerError(
  req: GuardedRequest,
  res: GuardedResponse,
  kind: ErrorKind,
  message: string,
): void {
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const contentType = (req.headers["content-type"] ?? "").toLowerCase();
    const close: Record<string, string> = req.httpVersionMajor === 1 ? { connection: "close" } : {};
    if (contentType.startsWith("application/grpc")) {
      res.writeHead(200, {
        ...close,
        "content-type": contentType.startsWith("application/grpc-web") ? "application/grpc-web+proto" : "application/grpc",
        "grpc-status": String(kind.grpcStatus),
        "grpc-message": encodeURIComponent(message),
      });
      res.end();
      return;
    }
    const error = { code: kind.connectCode, message };
    if (contentType.startsWith("application/connect+")) {
      const json = Buffer.from(JSON.stringify({ error }));
      const head = Buffer.alloc(5);
      // flag 0x02: end of stream
      head.writeUInt8(2, 0);
      head.writeUInt32BE(json.length, 1);
      res.writeHead(200, { ...close, "content-type": "application/connect+json" });
      res.end(Buffer.concat([head, json]));
      return;
    }
    const body = Buffer.from(JSON.stringify(error));
    res.writeHead(kind.httpStatus, { ...close, "content-type": "application/json", "content-length": String(body.length) });
    res.end(body);
  } catch {
    // the stream is gone or refuses the answer: nothing left to tell the client
    res.destroy();
  }
}
