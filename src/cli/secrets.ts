import { leadingGlobalFlags, UsageError, type CliContext } from "./command.ts";
import { secretsCreate } from "./secrets-create.ts";
import { secretsDelete } from "./secrets-delete.ts";
import { secretsGet } from "./secrets-get.ts";
import { secretsList } from "./secrets-list.ts";
import { secretsTest } from "./secrets-test.ts";
import { secretsUpdate } from "./secrets-update.ts";

export const secretsUsage = `Usage: credbroker secrets <command> NAME --mode test|live [flags]

Manages secrets through the broker's SecretService (the admin token is
required). Values go in through stdin, a file or a hidden prompt, never
through arguments, and never come back out: get and list show metadata.

Commands:
  create NAME   store a new secret
  get NAME      show a secret's metadata
  list          list the secrets of a mode
  update NAME   change a secret's description or values
  delete NAME   delete a test secret
  test [NAME]   test a stored secret, or values before saving them

Run 'credbroker secrets <command> --help' for a command's flags.
`;

/** The `secrets` subcommands. */
export const secretsCommands: Record<string, (args: string[], ctx: CliContext) => Promise<number>> = {
  create: secretsCreate,
  get: secretsGet,
  list: secretsList,
  update: secretsUpdate,
  delete: secretsDelete,
  test: secretsTest,
};

/** `credbroker secrets <command>`. */
export async function secrets(args: string[], ctx: CliContext): Promise<number> {
  const { globals, rest: [subcommand, ...rest] } = leadingGlobalFlags(args);
  if (subcommand === "--help" || subcommand === "-h" || subcommand === "help") {
    ctx.stdout.write(secretsUsage);
    return 0;
  }
  const run = subcommand === undefined ? undefined : secretsCommands[subcommand];
  if (run === undefined) {
    throw new UsageError(subcommand === undefined ? "missing the secrets command (create, get, list, update, delete, test)" : `unknown secrets command "${subcommand}"`);
  }
  return run([...rest, ...globals], ctx);
}
