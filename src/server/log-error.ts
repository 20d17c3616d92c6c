/** What a log line says about an error. */
export interface LoggedError {
  /** The error's class, e.g. "CredbrokerError" or "TypeError". */
  type: string;
  message?: string;
  /** A string or numeric `code` (e.g. "ERR_SEAL_OPEN_FAILED", "ECONNREFUSED"). */
  code?: string | number;
  stack?: string;
  /** The cause chain, class and code only. */
  cause?: LoggedError;
}

/** How many causes deep the chain is followed. */
const maxCauses = 5;

/**
 * The pino serializer of errors: an allowlist, where pino's default copies
 * every enumerable field. Library errors carry the request and response they
 * came from (`config.headers.authorization`, `response.data`, `request.body`,
 * openid-client's `cause` holding the token endpoint's JSON body): none of
 * that is kept. The error's own message and stack stay, since the broker's
 * errors are value-free by contract and a fault is not diagnosable without
 * them; of each cause only the class and code stay, since a cause comes from
 * code the broker does not control (a JSON.parse SyntaxError quotes its
 * input, for one).
 */
export function serializeError(value: unknown): LoggedError {
  if (!(value instanceof Error)) {
    return { type: typeName(value) };
  }
  const logged: LoggedError = { type: typeName(value), message: value.message };
  const code = codeOf(value);
  if (code !== undefined) {
    logged.code = code;
  }
  if (value.stack !== undefined) {
    logged.stack = value.stack;
  }
  const cause = causeOf(value, 1);
  if (cause !== undefined) {
    logged.cause = cause;
  }
  return logged;
}

function causeOf(error: Error, depth: number): LoggedError | undefined {
  const cause: unknown = error.cause;
  if (cause === undefined || depth > maxCauses) {
    return undefined;
  }
  const logged: LoggedError = { type: typeName(cause) };
  if (cause instanceof Error) {
    const code = codeOf(cause);
    if (code !== undefined) {
      logged.code = code;
    }
    const next = causeOf(cause, depth + 1);
    if (next !== undefined) {
      logged.cause = next;
    }
  }
  return logged;
}

/** The class name of a value, from its prototype (an own `constructor` field of parsed JSON is data). */
function typeName(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (typeof value !== "object") {
    return typeof value;
  }
  const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
  const name: unknown = prototype?.constructor?.name;
  return typeof name === "string" && /^[A-Za-z_$][\w$]{0,63}$/.test(name) ? name : "Object";
}

/** An error's code when it looks like one (an identifier or a number), never free text. */
function codeOf(error: Error): string | number | undefined {
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === "number" && Number.isFinite(code)) {
    return code;
  }
  return typeof code === "string" && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(code) ? code : undefined;
}
