import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ModeSchema } from "../gen/credbroker/v1/secret_pb.ts";
import type { CallMetrics, MethodCalls } from "./call-metrics.ts";
import { requestIdKey } from "./call-context.ts";
import { callRecord, mappedError, type CallTarget } from "./call-record.ts";
import { isServerFault } from "./connect-error.ts";

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/** Options of the log interceptor. */
export interface LogInterceptorOptions {
  /** Where each call's final code and duration are counted; undefined when metrics are off. */
  calls?: CallMetrics | undefined;
  /**
   * Methods whose successful calls are logged at debug: those the audit log
   * records one by one (Inject), so that the info log stays for operators.
   * Their failures keep their levels.
   */
  quietMethods?: readonly DescMethod[] | undefined;
}

/** What the interceptor keeps per method, so that a call builds no string and looks nothing up twice. */
interface MethodEntry {
  readonly name: string;
  readonly calls: MethodCalls | undefined;
  readonly quiet: boolean;
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
  const quiet = new Set(options.quietMethods ?? []);
  return (next) => async (req) => {
    const started = performance.now();
    const presented = req.header.get("x-request-id");
    const requestId = presented !== null && requestIdPattern.test(presented) ? presented : randomUUID();
    req.contextValues.set(requestIdKey, requestId);
    let entry = methods.get(req.method);
    if (entry === undefined) {
      entry = { name: `${req.service.typeName}/${req.method.name}`, calls: options.calls?.of(req.service, req.method), quiet: quiet.has(req.method) };
      methods.set(req.method, entry);
    }
    const record = callRecord(req, entry.name);
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      const ms = performance.now() - started;
      entry.calls?.record(0, ms / 1000);
      // the line is built only when it is written: a quiet method's is not, at info
      if (!entry.quiet) {
        logger.info(logLine(requestId, entry.name, record.target, "ok", ms), "call");
      } else if (logger.isLevelEnabled("debug")) {
        logger.debug(logLine(requestId, entry.name, record.target, "ok", ms), "call");
      }
      return res;
    } catch (error) {
      const connectError = mappedError(record, error);
      connectError.metadata.set("x-request-id", requestId);
      const ms = performance.now() - started;
      entry.calls?.record(connectError.code, ms / 1000);
      const line = logLine(requestId, entry.name, record.target, Code[connectError.code], ms);
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

function logLine(requestId: string, method: string, target: CallTarget, code: string, ms: number): LogLine {
  // in the order the line has always had: who, what, then the outcome
  const line: LogLine = { requestId, method };
  if (target.mode !== undefined) {
    line.mode = ModeSchema.value[target.mode]?.name ?? String(target.mode);
  }
  if (target.name !== undefined) {
    line.name = target.name;
  }
  if (target.names !== undefined) {
    line.names = target.names.length;
  }
  line.code = code;
  line.ms = rounded(ms);
  return line;
}

/** Milliseconds to the microsecond, as the log line shows them. */
function rounded(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
