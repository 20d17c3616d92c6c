import { GetSecretResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { oneName, parseCommandArgs, printHelp, requiredMode, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecret, printJson } from "./output.ts";

export const secretsGetUsage = `Usage: credbroker secrets get NAME --mode test|live [flags]

Shows a secret's metadata: type, description, version and times. Values are
never shown (see: credbroker inject --help).

  --mode test|live  the mode to look in (required)
`;

const options = { mode: { type: "string" } } as const;

/** `credbroker secrets get`: GetSecret. */
export async function secretsGet(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsGetUsage);
  }
  const name = oneName(positionals);
  const mode = requiredMode(values.mode);
  const res = await withClient(values, ctx, "admin", (client) => client.secrets.getSecret({ mode, name }));
  if (values.json === true) {
    printJson(ctx, GetSecretResponseSchema, res);
  } else if (res.secret !== undefined) {
    ctx.stdout.write(formatSecret(res.secret));
  }
  return 0;
}
