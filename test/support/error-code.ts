import { ConnectError, type Code } from "@connectrpc/connect";
import { CredbrokerError } from "../../src/errors.ts";

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
