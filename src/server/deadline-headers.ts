import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingHttpHeaders } from "node:http2";
import type { UniversalHandler } from "@connectrpc/connect/protocol";

/**
 * The longest delay a Node timer holds: setTimeout runs anything longer
 * after 1 ms (with a TimeoutOverflowWarning), and @grpc/grpc-js wraps a
 * parsed grpc-timeout to 32 bits, so a deadline of 25 days or a year
 * expired at once. Any longer timeout is clamped to about 24.8 days, which
 * no call of the broker comes near.
 */
const maxTimerMs = 2 ** 31 - 1;

/** A grpc-timeout of at most maxTimerMs, written with the 8 digits the header allows. */
const maxGrpcTimeout = `${Math.floor(maxTimerMs / 1000)}S`;

const grpcTimeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** A `grpc-timeout` value that a Node timer can hold: a valid one above the limit becomes the limit; others are left as they are. */
export function clampGrpcTimeout(value: string): string {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) {
    // malformed: each protocol implementation answers it as it does today
    return value;
  }
  return Number(match[1]) * grpcTimeoutUnitMs[match[2]!]! > maxTimerMs ? maxGrpcTimeout : value;
}

/** A `connect-timeout-ms` value that a Node timer can hold, on the same terms as clampGrpcTimeout. */
export function clampConnectTimeout(value: string): string {
  return /^\d{1,10}$/.test(value) && Number(value) > maxTimerMs ? String(maxTimerMs) : value;
}

/** A method handler of connect-node that clamps a request's deadline headers before it parses them. */
export function clampRequestDeadlines(handler: UniversalHandler): UniversalHandler {
  const clamped = (req: Parameters<UniversalHandler>[0]) => {
    clampDeadlineHeaders(req.header);
    return handler(req);
  };
  return Object.assign(clamped, handler);
}

function clampDeadlineHeaders(header: Headers): void {
  const grpcTimeout = header.get("grpc-timeout");
  if (grpcTimeout !== null) {
    header.set("grpc-timeout", clampGrpcTimeout(grpcTimeout));
  }
  const connectTimeout = header.get("connect-timeout-ms");
  if (connectTimeout !== null) {
    header.set("connect-timeout-ms", clampConnectTimeout(connectTimeout));
  }
}

/** What Node publishes on `http2.server.stream.start`. */
interface StreamStart {
  readonly headers: IncomingHttpHeaders;
}

const streamStart = "http2.server.stream.start";

function clampStreamDeadline(message: unknown): void {
  const { headers } = message as StreamStart;
  const value = headers["grpc-timeout"];
  if (typeof value === "string") {
    headers["grpc-timeout"] = clampGrpcTimeout(value);
  }
}

/**
 * Clamps the grpc-timeout of every HTTP/2 request this process serves,
 * before any 'stream' listener sees its headers; returns the function that
 * stops it. @grpc/grpc-js keeps its HTTP/2 server to itself and parses the
 * header when the stream starts, and Node's diagnostics channel is the one
 * public place that sees a server stream's headers before its listeners.
 */
export function clampHttp2GrpcTimeouts(): () => void {
  // a function of its own per caller: each listener subscribes and unsubscribes its own
  const onStreamStart = (message: unknown) => clampStreamDeadline(message);
  subscribe(streamStart, onStreamStart);
  return () => {
    unsubscribe(streamStart, onStreamStart);
  };
}
