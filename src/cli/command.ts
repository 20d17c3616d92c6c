import type { Readable, Writable } from "node:stream";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";

/** What a command reads and writes; main.ts passes the process's own. */
export interface CliContext {
  /** Where credentials and confirmations come from. */
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Results: tables, or JSON with --json. */
  stdout: Writable;
  /** Prompts, notes and the one-line error. */
  stderr: Writable;
  /** The environment, handed to src/config (the one place that reads it). */
  env: NodeJS.ProcessEnv;
}

/** A mistake on the command line: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The stable code, printed after the message. */
  readonly code = "ERR_USAGE";
}

/** The stable codes of the failures the CLI detects itself. */
export type CliErrorCode =
  /** The credential input is unreadable, too large, or not what the type takes. */
  | "ERR_INPUT"
  /** The user did not confirm, or cancelled a prompt. */
  | "ERR_CANCELLED"
  /** No admin token was found where the CLI looks. */
  | "ERR_NO_TOKEN"
  /** The data dir to work on does not exist. */
  | "ERR_NO_DATA_DIR"
  /** The broker answered something this CLI cannot show (a newer broker). */
  | "ERR_UNKNOWN_ANSWER";

/** A failure the CLI detects itself (bad input, a refused confirmation): exit code 1. */
export class CliError extends Error {
  override name = "CliError";
  /** The stable code, printed after the message. */
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The flags every client command takes. */
export const globalOptions = {
  addr: { type: "string" },
  "data-dir": { type: "string" },
  "tls-ca-file": { type: "string" },
  "tls-client-cert-file": { type: "string" },
  "tls-client-key-file": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsOptionsConfig;

/** The global flags that take a value. */
const valueFlags = new Set(["--addr", "--data-dir", "--tls-ca-file", "--tls-client-cert-file", "--tls-client-key-file"]);

/**
 * Splits the global flags that come before a command off its arguments, so
 * that `credbroker --json secrets list` works as `credbroker secrets list
 * --json` does: the command is `rest[0]`, and the flags are appended to its
 * arguments for its own (strict) util.parseArgs.
 */
export function leadingGlobalFlags(args: readonly string[]): { globals: string[]; rest: string[] } {
  let i = 0;
  while (i < args.length) {
    const flag = args[i]!.split("=")[0]!;
    if (flag === "--json") {
      i += 1;
    } else if (valueFlags.has(flag)) {
      i += args[i]!.includes("=") ? 1 : 2;
    } else {
      break;
    }
  }
  return { globals: args.slice(0, i), rest: args.slice(i) };
}

/** The help text of globalOptions, appended to every client command's usage. */
export const globalUsage = `
Global flags:
  --addr ADDR       the broker: host:port or unix:/path
                    (CREDBROKER_ADDR, else CREDBROKER_LISTEN, else 127.0.0.1:7390)
  --data-dir DIR    where admin.token is read when CREDBROKER_TOKEN and
                    CREDBROKER_ADMIN_TOKEN are unset (CREDBROKER_DATA_DIR, else ./data)
  --tls-ca-file FILE
                    speak TLS to the broker and trust this CA (CREDBROKER_TLS_CA_FILE);
                    next to a broker with CREDBROKER_TLS_CERT_FILE set, TLS is
                    used without it, trusting exactly that certificate
  --tls-client-cert-file FILE, --tls-client-key-file FILE
                    a client certificate, for a broker that requires one
                    (CREDBROKER_TLS_CLIENT_CERT_FILE, CREDBROKER_TLS_CLIENT_KEY_FILE)
  --json            machine-readable output (the proto3 JSON mapping; versions as strings)
  -h, --help        this help
`;

/** Parses a command's arguments, the global flags included, with util.parseArgs, strictly; a mistake is a UsageError. */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  return parseOwnArgs(args, { ...globalOptions, ...options });
}

/** As parseCommandArgs, for a command that takes no global flags (it does not talk to a broker: rekey, fleet import). */
export function parseOwnArgs<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Prints a command's help to stdout; exit code 0. */
export function printHelp(ctx: CliContext, usage: string, withGlobals = true): number {
  ctx.stdout.write(withGlobals ? usage + globalUsage : usage);
  return 0;
}

/** The one secret name a command takes. */
export function oneName(positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? "missing the secret NAME" : `expected one NAME, got ${positionals.length}`);
  }
  return positionals[0]!;
}

/** No positional arguments. */
export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`);
  }
}

/** The mode named by `--mode`, which every secret command requires. */
export function requiredMode(value: string | undefined): Mode {
  switch (value) {
    case "test":
      return Mode.TEST;
    case "live":
      return Mode.LIVE;
    case undefined:
      throw new UsageError("missing --mode test|live");
    default:
      throw new UsageError(`--mode must be test or live, got "${value}"`);
  }
}

/** The CLI's name of a mode. */
export function modeName(mode: Mode): string {
  return mode === Mode.TEST ? "test" : mode === Mode.LIVE ? "live" : "unspecified";
}
