import { timestampDate } from "@bufbuild/protobuf/wkt";
import { GetKeyStatusResponseSchema, RotateKeyResponseSchema, type KeyTerm } from "../gen/credbroker/v1/key_service_pb.ts";
import { leadingGlobalFlags, noPositionals, parseCommandArgs, printHelp, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatTable, printJson } from "./output.ts";

export const keysUsage = `Usage: credbroker keys rotate|status [flags]

Manages the keyring through the broker's KeyService (the admin token is
required). Key material never leaves the broker.

Commands:
  rotate   add a new key that wraps every new record's data key; a
           background rewrap then moves every record to it
  status   the keys, which one is active, and how many records each wraps
`;

/** `credbroker keys rotate|status`. */
export async function keys(args: string[], ctx: CliContext): Promise<number> {
  const { globals, rest: [subcommand, ...rest] } = leadingGlobalFlags(args);
  if (subcommand === "--help" || subcommand === "-h" || subcommand === "help") {
    ctx.stdout.write(keysUsage);
    return 0;
  }
  if (subcommand !== "rotate" && subcommand !== "status") {
    throw new UsageError(subcommand === undefined ? "missing the keys command (rotate, status)" : `unknown keys command "${subcommand}"`);
  }
  const { values, positionals } = parseCommandArgs([...rest, ...globals], {});
  if (values.help === true) {
    return printHelp(ctx, keysUsage);
  }
  noPositionals(positionals);
  if (subcommand === "rotate") {
    const res = await withClient(values, ctx, "admin", (client) => client.keys.rotateKey({}));
    if (values.json === true) {
      printJson(ctx, RotateKeyResponseSchema, res);
    } else {
      ctx.stdout.write(formatTerms(res.terms));
      ctx.stderr.write(`key ${res.newTerm?.keyId ?? "?"} is active; records move to it in the background\n`);
    }
    return 0;
  }
  const res = await withClient(values, ctx, "admin", (client) => client.keys.getKeyStatus({}));
  if (values.json === true) {
    printJson(ctx, GetKeyStatusResponseSchema, res);
  } else {
    ctx.stdout.write(formatTerms(res.terms));
    ctx.stderr.write(
      res.recordsToRewrap === 0n
        ? "every record is wrapped by the active key\n"
        : `${res.recordsToRewrap} records still on older keys${res.rewrapRunning ? " (rewrap running)" : ""}\n`,
    );
  }
  return 0;
}

function formatTerms(terms: readonly KeyTerm[]): string {
  return formatTable(
    ["KEY", "ACTIVE", "CREATED", "RECORDS"],
    terms.map((t) => [
      String(t.keyId),
      t.active ? "yes" : "no",
      t.createTime === undefined ? "" : timestampDate(t.createTime).toISOString(),
      t.recordCount.toString(),
    ]),
  );
}
