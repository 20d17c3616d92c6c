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
  return (next) => async (req) => {
    const started = performance.now();
    const presented = req.header.get("x-request-id");
    const requestId = presented !== null && requestIdPattern.test(presented) ? presented : randomUUID();
    const target = req.stream ? {} : describeTarget(req.message);
    const method = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      res.header.set("x-request-id", requestId);
      logger.info({ requestId, method, ...target, code: "ok", ms: elapsed(started) }, "call");
      return res;
    } catch (error) {
      const connectError = toConnectError(error);
      connectError.metadata.set("x-request-id", requestId);
      const line = { requestId, method, ...target, code: Code[connectError.code], ms: elapsed(started) };
      if (isServerFault(connectError.code)) {
        logger.error({ ...line, err: error }, "call failed");
      } else {
        logger.info({ ...line, reason: connectError.rawMessage }, "call");
      }
      throw connectError;
    }
  };
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
