import { DeleteSecretResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CliError, modeName, oneName, parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { printJson } from "./output.ts";
import { confirm } from "./prompt.ts";

export const secretsDeleteUsage = `Usage: credbroker secrets delete NAME --mode test [flags]

Deletes a test secret, permanently (live secrets cannot be deleted). Asks
for confirmation on a terminal; elsewhere --yes is required.

  --mode test   the mode of the secret (required; the broker refuses live)
  --yes         do not ask
`;

const options = { mode: { type: "string" }, yes: { type: "boolean", short: "y" } } as const;

/** `credbroker secrets delete`: DeleteSecret after a confirmation or --yes. */
export async function secretsDelete(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsDeleteUsage);
  }
  const name = oneName(positionals);
  const mode = requiredMode(values.mode);
  if (values.yes !== true) {
    if (ctx.stdin.isTTY !== true) {
      throw new UsageError("refusing to delete without --yes when stdin is not a terminal");
    }
    if (!(await confirm(ctx, `Delete the ${modeName(mode)} secret "${name}" permanently?`))) {
      throw new CliError("ERR_CANCELLED", "not deleted");
    }
  }
  const res = await withClient(values, ctx, "admin", (client) => client.secrets.deleteSecret({ mode, name }));
  if (values.json === true) {
    printJson(ctx, DeleteSecretResponseSchema, res);
  } else {
    ctx.stdout.write(`deleted ${modeName(mode)} secret ${name}\n`);
  }
  return 0;
}
