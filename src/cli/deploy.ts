import { DeploySecretsResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { parseCommandArgs, printHelp, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecretTable, printJson } from "./output.ts";

export const deployUsage = `Usage: credbroker deploy NAME... [flags]

Copies test secrets to live, creating or replacing the live secret of the
same name. All or nothing: if any NAME is missing in test, nothing is
copied. Prints the live copies.
`;

/** `credbroker deploy`: DeploySecrets. */
export async function deploy(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {});
  if (values.help === true) {
    return printHelp(ctx, deployUsage);
  }
  if (positionals.length === 0) {
    throw new UsageError("missing the NAME of at least one test secret to deploy");
  }
  const res = await withClient(values, ctx, "admin", (client) => client.secrets.deploySecrets({ names: positionals }));
  if (values.json === true) {
    printJson(ctx, DeploySecretsResponseSchema, res);
  } else {
    ctx.stdout.write(formatSecretTable(res.secrets));
  }
  return 0;
}
