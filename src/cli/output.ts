import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { brokerErrorDetails } from "../client/error-details.ts";
import type { Secret } from "../gen/credbroker/v1/secret_pb.ts";
import { modeName, type CliContext } from "./command.ts";
import { typeName } from "./secret-types.ts";

/**
 * Prints a message for scripts: the proto3 JSON mapping that the Connect
 * protocol uses too (enum names, uint64 versions as strings, RFC 3339
 * times), every field present.
 */
export function printJson<D extends DescMessage>(ctx: CliContext, schema: D, message: MessageShape<D>): void {
  ctx.stdout.write(`${JSON.stringify(toJson(schema, message, { alwaysEmitImplicit: true }), null, 2)}\n`);
}

/** Lays rows out in columns under a header; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows].map((row) => row.map(printable));
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]?.length ?? 0)));
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ").trimEnd())
    .join("\n")
    .concat("\n");
}

/** Lays out name/value pairs, one a line. */
export function formatPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([name]) => name.length));
  return pairs.map(([name, value]) => `${name.padEnd(width)}  ${printable(value)}`.trimEnd()).join("\n").concat("\n");
}

/** Secrets as a table: name, mode, type, version, last change, description. */
export function formatSecretTable(secrets: readonly Secret[]): string {
  return formatTable(
    ["NAME", "MODE", "TYPE", "VERSION", "UPDATED", "DESCRIPTION"],
    secrets.map((s) => [s.name, modeName(s.mode), typeName(s.type), s.version.toString(), time(s.updateTime), s.description]),
  );
}

/** One secret's metadata, one field a line. */
export function formatSecret(secret: Secret): string {
  return formatPairs([
    ["name", secret.name],
    ["mode", modeName(secret.mode)],
    ["type", typeName(secret.type)],
    ["version", secret.version.toString()],
    ["created", time(secret.createTime)],
    ["updated", time(secret.updateTime)],
    ["description", secret.description],
  ]);
}

/** An RFC 3339 time to the second, or "-". */
export function time(timestamp: Timestamp | undefined): string {
  return timestamp === undefined ? "-" : timestampDate(timestamp).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A code worth printing: a stable identifier like ERR_SECRET_NOT_FOUND, never free text. */
const stableCode = /^ERR_[A-Z0-9_]{1,60}$/;

/**
 * What the CLI prints for a failure, without the "credbroker: " prefix, on
 * one line: a broker error as `[code] message (REASON)`, the reason read
 * from its google.rpc.ErrorInfo; the CLI's own and local domain errors as
 * `message (CODE)`. Messages name fields, files and secrets, never values.
 */
export function errorLine(error: unknown): string {
  if (error instanceof ConnectError) {
    const { reason } = brokerErrorDetails(error);
    return oneLine(reason === undefined ? error.message : `${error.message} (${reason})`);
  }
  if (!(error instanceof Error)) {
    return oneLine(String(error));
  }
  const code: unknown = (error as { code?: unknown }).code;
  return oneLine(typeof code === "string" && stableCode.test(code) ? `${error.message} (${code})` : error.message);
}

/** One line, whatever the text carries. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}

// a description could carry terminal escape sequences or line breaks
// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u001f\u007f-\u009f]/g;

function printable(text: string): string {
  return text.replace(controls, " ");
}
