import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { deadlineKey } from "./call-context.ts";

/**
 * The innermost interceptor of both listeners: a call whose deadline (gRPC)
 * or timeout (Connect) has passed when it gets here is not run, and its
 * refusal is authenticated, logged and audited like any answer. grpc-js
 * gives the deadline as a number (its signal is made only when asked for);
 * connect-node's request signal is aborted already.
 */
export const rejectExpiredDeadline: Interceptor = (next) => (req) => {
  const deadline = req.contextValues.get(deadlineKey);
  // a call without a deadline (Infinity) reads no clock
  if (deadline === undefined ? req.signal.aborted : deadline !== Infinity && deadline <= Date.now()) {
    throw deadline === undefined ? ConnectError.from(req.signal.reason) : new ConnectError("the deadline was exceeded", Code.DeadlineExceeded);
  }
  return next(req);
};
