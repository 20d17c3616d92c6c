import { ConnectError, type Code } from "@connectrpc/connect";
import { CredbrokerError } from "../../src/errors.ts";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.ts";

/** The domain code that `fn` throws, undefined when it returns, or what else it threw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CredbrokerError ? error.code : `not a CredbrokerError: ${String(error)}`;
  }
  return undefined;
}

/** The Connect code that a call answered, or "ok". */
export function connectCodeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  return call.then(
    () => "ok" as const,
    (error: unknown) => ConnectError.from(error).code,
  );
}

/** The domain code a call answered, read from its error's ErrorInfo reason as a client reads it; "ok" when it succeeded. */
export function reasonOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "ok",
    (error: unknown) => ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason ?? `no ErrorInfo: ${String(error)}`,
  );
}
