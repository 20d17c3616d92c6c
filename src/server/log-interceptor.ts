import { randomUUID } from "node:crypto";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isValidName } from "../api/validate-request.ts";
import { ModeSchema, type Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { CallMetrics, MethodCalls } from "./call-metrics.ts";
import { requestIdKey } from "./call-context.ts";
import { isServerFault, toConnectError } from "./connect-error.ts";

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Options of the log interceptor. */
export interface LogInterceptorOptions {
  /** Where each call's final code and duration are counted; undefined when metrics are off. */
  calls?: CallMetrics | undefined;
}

/** What the interceptor keeps per method, so that a call builds no string and looks nothing up twice. */
interface MethodEntry {
  readonly name: string;
  readonly calls: MethodCalls | undefined;
}

/**
 * The outermost interceptor, the one place that sees every call with its
 * final code: it gives each call a request id, turns every error into the
 * ConnectError a client may see, logs one line per call with method, mode,
 * name, code and duration, and counts the same code and duration in the
 * call metrics. It logs identifiers only, never a request's credentials or a
 * response's material.
 */
export function createLogInterceptor(logger: Logger, options: LogInterceptorOptions = {}): Interceptor {
  const methods = new WeakMap<object, MethodEntry>();
  return (next) => async (req) => {
    const started = performance.now();
    const presented = req.header.get("x-request-id");
    const requestId = presented !== null && requestIdPattern.test(presented) ? presented : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    let entry = methods.get(req.method);
    if (entry === undefined) {
      entry = { name: `${req.service.typeName}/${req.method.name}`, calls: options.calls?.of(req.service, req.method) };
      methods.set(req.method, entry);
    }
    const line: LogLine = { requestId, method: entry.name, ...(req.stream ? {} : describeTarget(req.message)) };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      const ms = performance.now() - started;
      entry.calls?.record(0, ms / 1000);
      line.code = "ok";
      line.ms = rounded(ms);
      logger.info(line, "call");
      return res;
    } catch (error) {
      const connectError = toConnectError(error);
      connectError.metadata.set("x-request-id", requestId);
      const ms = performance.now() - started;
      entry.calls?.record(connectError.code, ms / 1000);
      line.code = Code[connectError.code];
      line.ms = rounded(ms);
      if (isServerFault(connectError.code)) {
        logger.error({ ...line, err: error }, "call failed");
      } else {
        line.reason = connectError.rawMessage;
        logger.info(line, "call");
      }
      throw connectError;
    }
  };
}

/** What the log line of a call says: identifiers, outcome and duration only. */
interface LogLine {
  requestId: string;
  method: string;
  mode?: string;
  name?: string;
  names?: number;
  code?: string;
  ms?: number;
  reason?: string;
}

/** The mode and name a request addresses, if it has such fields. */
function describeTarget(message: unknown): { mode?: string; name?: string; names?: number } {
  const fields = message as { mode?: unknown; name?: unknown; names?: unknown };
  const target: { mode?: string; name?: string; names?: number } = {};
  if (typeof fields.mode === "number") {
    target.mode = ModeSchema.value[fields.mode as Mode]?.name ?? String(fields.mode);
  }
  if (typeof fields.name === "string" && fields.name !== "") {
    // a malformed name is not echoed: a confused client may have sent a value there
    target.name = isValidName(fields.name) ? fields.name : "(invalid)";
  }
  if (Array.isArray(fields.names)) {
    target.names = fields.names.length;
  }
  return target;
}

/** Milliseconds to the microsecond, as the log line shows them. */
function rounded(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
