import { CreateSecretResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { oneName, parseCommandArgs, printHelp, requiredMode, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatSecret, printJson } from "./output.ts";
import { chosenValueSource, readCredentials, valueSourceOptions, valueSourceUsage, type ValueSource } from "./read-credentials.ts";
import { typeNames, typeSpecByName } from "./secret-types.ts";

export const secretsCreateUsage = `Usage: credbroker secrets create NAME --mode test|live --type TYPE [flags]

Stores a new secret. The credential values are never taken from the command
line: they come from stdin, a file, or a hidden prompt on a terminal (the
default when stdin is a terminal; otherwise stdin is read).

  --mode test|live      the mode to store it in (required)
  --type TYPE           ${typeNames} (required)
  --description TEXT    free text for operators
${valueSourceUsage}

Input: a JSON object of the type's fields, as in the API's Credentials:
  basic           {"username": "...", "password": "..."}
  bearer          {"token": "..."} or the token alone
  api-key         {"keyName": "X-API-Key", "keyValue": "..."}
  sftp-password   {"username": "...", "password": "..."}
  sftp-key        {"username": "...", "privateKey": "<PEM or OpenSSH>", "passphrase": "..."}
  oauth2          {"clientId": "...", "clientSecret": "...", "tokenUrl": "https://...",
                   "scopes": ["..."], "audience": "...", "resource": "...",
                   "authMethod": "client_secret_basic|client_secret_post"}
  json            the JSON document itself

Example:
  printf '%s' '{"keyName":"X-API-Key","keyValue":"sk_test_51H"}' |
    credbroker secrets create stripe-api-key --mode test --type api-key --description Stripe
`;

const options = {
  mode: { type: "string" },
  type: { type: "string" },
  description: { type: "string" },
  ...valueSourceOptions,
} as const;

/** `credbroker secrets create`: CreateSecret with values from stdin, a file or a prompt. */
export async function secretsCreate(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, secretsCreateUsage);
  }
  const name = oneName(positionals);
  const mode = requiredMode(values.mode);
  const spec = typeSpecByName(values.type);
  const source: ValueSource = chosenValueSource(values) ?? (ctx.stdin.isTTY === true ? { kind: "prompt" } : { kind: "stdin" });
  // the token is looked up before anyone types a password
  const res = await withClient(values, ctx, "admin", async (client) => {
    const credentials = await readCredentials(spec, source, ctx);
    return client.secrets.createSecret({ mode, name, description: values.description ?? "", credentials });
  });
  if (values.json === true) {
    printJson(ctx, CreateSecretResponseSchema, res);
  } else if (res.secret !== undefined) {
    ctx.stdout.write(formatSecret(res.secret));
  }
  return 0;
}
