import { createRequire } from "node:module";
import { pino, type DestinationStream, type Logger } from "pino";
import { sensitiveFieldNames } from "../credentials/credential-registry.ts";
import { serializeError } from "./log-error.ts";

/**
 * Keys that would hold a credential if some code ever logged one: every
 * sensitive credential field (the registry's), an OAuth2 access token, and
 * the objects that carry them. The broker logs identifiers only (method,
 * mode, name, code); this is the safety net. Top-level paths, because
 * wildcard paths cost a walk of every logged object on the hot path.
 * Errors are covered by serializeError instead.
 */
const credentialKeys = [...sensitiveFieldNames, "accessToken", "credentials", "authorization", "headers"];

/** Where log lines go: a stream, which is a terminal when its `isTTY` is true. */
export type LogDestination = (DestinationStream | NodeJS.WritableStream) & { readonly isTTY?: boolean };

/**
 * The broker's logger, writing to `destination` (stderr by default): JSON
 * lines, or human-readable lines when the destination is a terminal.
 * Credential-shaped keys are redacted, and a logged error keeps only its
 * class, message, code and stack (see serializeError).
 */
export function createLogger(level: string, destination?: LogDestination): Logger {
  const options = {
    level,
    base: { service: "credbroker" },
    redact: { paths: credentialKeys, censor: "[redacted]" },
    // `error` and `cause` too, in case some code logs an error under another key
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
  };
  const terminal = (destination ?? process.stderr).isTTY === true;
  if (terminal) {
    // in process, and synchronous on stderr: a worker-thread transport would
    // lose the last lines of a crash, and a terminal is read, not shipped
    // loaded only for a terminal: a broker whose stderr is shipped (the usual case) does not pay its start-up cost
    const { PinoPretty } = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
    return pino(options, PinoPretty({
      destination: destination ?? 2,
      sync: true,
      colorize: true,
      singleLine: true,
      translateTime: "SYS:HH:MM:ss.l",
      // pino-pretty shows a `name` field as the logger's name ("INFO (stripe-key): call"): the secret's name goes after the message instead
      ignore: "pid,hostname,service,name",
      messageFormat: withSecretName,
    }));
  }
  return pino(options, destination ?? pino.destination({ dest: 2, sync: false }));
}

/** A pretty line's message, followed by the secret name of a call line. */
function withSecretName(log: Record<string, unknown>, messageKey: string): string {
  const message = typeof log[messageKey] === "string" ? log[messageKey] : "";
  return typeof log["name"] === "string" ? `${message} name=${log["name"]}` : message;
}
