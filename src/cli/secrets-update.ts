import { UpdateSecretResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CliError, oneName, parseCommandArgs, printHelp, requiredMode, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecret, printJson } from "./output.ts";
import { chosenValueSource, readCredentials, valueSourceOptions, valueSourceUsage } from "./read-credentials.ts";
import { typeName, typeSpecOf } from "./secret-types.ts";

export const secretsUpdateUsage = `Usage: credbroker secrets update NAME --mode test|live [flags]

Changes a secret's description, its values, or both; the version grows by 1.
New values are read like \`secrets create\` reads them (see its --help), for
the secret's own type (a type cannot change). Without --stdin, --from-file
or --prompt the values stay as they are.

  --mode test|live        the mode of the secret (required)
  --description TEXT      the new description ("" clears it)
${valueSourceUsage}
  --expected-version V    refuse (ABORTED) unless the secret is at version V
`;

const options = {
  mode: { type: "string" },
  description: { type: "string" },
  "expected-version": { type: "string" },
  ...valueSourceOptions,
} as const;

/** `credbroker secrets update`: UpdateSecret, reading new values for the secret's current type. */
export async function secretsUpdate(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsUpdateUsage);
  }
  const name = oneName(positionals);
  const mode = requiredMode(values.mode);
  const source = chosenValueSource(values);
  const expectedVersion = versionOf(values["expected-version"]);
  if (source === undefined && values.description === undefined) {
    throw new UsageError("nothing to update: give --description, or new values with --stdin, --from-file or --prompt");
  }
  const res = await withClient(values, ctx, "admin", async (client) => {
    let credentials;
    if (source !== undefined) {
      const { secret } = await client.secrets.getSecret({ mode, name });
      const spec = secret === undefined ? undefined : typeSpecOf(secret.type);
      if (spec === undefined) {
        throw new CliError("ERR_UNKNOWN_ANSWER", `${name}: the broker reports a type this CLI does not know (${typeName(secret?.type ?? 0)})`);
      }
      credentials = await readCredentials(spec, source, ctx);
    }
    return client.secrets.updateSecret({
      mode,
      name,
      ...(values.description === undefined ? {} : { description: values.description }),
      ...(credentials === undefined ? {} : { credentials }),
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
  });
  if (values.json === true) {
    printJson(ctx, UpdateSecretResponseSchema, res);
  } else if (res.secret !== undefined) {
    ctx.stdout.write(formatSecret(res.secret));
  }
  return 0;
}

function versionOf(text: string | undefined): bigint | undefined {
  if (text === undefined) {
    return undefined;
  }
  if (!/^[1-9]\d{0,19}$/.test(text)) {
    throw new UsageError(`--expected-version must be a version number (1, 2, ...), got "${text}"`);
  }
  return BigInt(text);
}
