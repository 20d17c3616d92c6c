import { randomUUID } from "node:crypto";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isValidName } from "../api/validate-request.ts";
import { ModeSchema, type Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { isServerFault, toConnectError } from "./connect-error.ts";

const requestIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The outermost interceptor: it gives each call a request id, turns every
 * error into the ConnectError a client may see, and logs one line per call
 * with method, mode, name, code and duration. It logs identifiers only,
 * never a request's credentials or a response's material.
 */
export function createLogInterceptor(logger: Logger): Interceptor {
  // one string per method, not one per call
  const methodNames = new WeakMap<object, string>();
  return (next) => async (req) => {
    const started = performance.now();
    const presented = req.header.get("x-request-id");
    const requestId = presented !== null && requestIdPattern.test(presented) ? presented : randomUUID();
    let method = methodNames.get(req.method);
    if (method === undefined) {
      method = `${req.service.typeName}/${req.method.name}`;
      methodNames.set(req.method, method);
    }
    const line: LogLine = { requestId, method, ...(req.stream ? {} : describeTarget(req.message)) };
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      line.code = "ok";
      line.ms = elapsed(started);
      logger.info(line, "call");
      return res;
    } catch (error) {
      const connectError = toConnectError(error);
      connectError.metadata.set("x-request-id", requestId);
      line.code = Code[connectError.code];
      line.ms = elapsed(started);
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

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
