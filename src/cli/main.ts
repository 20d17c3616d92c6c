#!/usr/bin/env node
import { ConfigError } from "../config/config-error.ts";
import { CredbrokerError } from "../errors.ts";
import { globalUsage, leadingGlobalFlags, UsageError, type CliContext } from "./command.ts";
import { errorLine } from "./output.ts";

const usage = `Usage: credbroker <command> [flags]

Commands:
  serve                 run the broker (see: credbroker serve --help)
  secrets create NAME   store a secret; values from stdin, a file or a hidden prompt
  secrets get NAME      show a secret's metadata
  secrets list          list the secrets of a mode
  secrets update NAME   change a secret's description or values
  secrets delete NAME   delete a test secret
  deploy NAME...        copy test secrets to live
  inject NAME           show the material a step would get (values hidden)
  health                check that the broker serves
  keys rotate|status    rotate the keyring; show what each key still wraps
  audit                 list the audit log: every admin call and Inject
  rekey                 re-wrap the keyring under a new master key (broker stopped)
  fleet import          move a standalone data dir into an empty central store (PostgreSQL)

Run 'credbroker <command> --help' for a command's flags.
Exit status: 0 success, 1 error, 2 usage error.
${globalUsage}`;

type Command = (args: string[], ctx: CliContext) => Promise<number>;

/** The admin client's commands, each loaded when it runs: serve does not load them. */
const commands: Record<string, () => Promise<Command>> = {
  secrets: async () => (await import("./secrets.ts")).secrets,
  deploy: async () => (await import("./deploy.ts")).deploy,
  inject: async () => (await import("./inject.ts")).inject,
  health: async () => (await import("./health.ts")).health,
  keys: async () => (await import("./keys.ts")).keys,
  audit: async () => (await import("./audit.ts")).audit,
};

/** The credbroker command line: exit 0 on success, 1 on an error, 2 on a usage error. */
async function main(argv: string[], ctx: CliContext): Promise<number> {
  const { globals, rest: [command, ...args] } = leadingGlobalFlags(argv);
  switch (command) {
    case "serve": {
      // the broker's modules (LMDB, grpc-js, openid-client) load only for serve
      const { serve, serveUsage } = await import("./serve.ts");
      if (args.includes("--help") || args.includes("-h")) {
        ctx.stdout.write(serveUsage);
        return 0;
      }
      await serve([...args, ...globals], ctx.env);
      return 0;
    }
    case "rekey": {
      // like serve, loads LMDB only when asked
      const { rekey } = await import("./rekey.ts");
      return rekey([...args, ...globals], ctx);
    }
    case "fleet": {
      // loads LMDB and the PostgreSQL client only when asked
      const { fleet } = await import("./fleet.ts");
      return fleet([...args, ...globals], ctx);
    }
    case "--help":
    case "-h":
    case "help":
      ctx.stdout.write(usage);
      return 0;
    case undefined:
      ctx.stderr.write(usage);
      return 2;
  }
  const load = commands[command];
  if (load === undefined) {
    throw new UsageError(`unknown command "${command}"`);
  }
  return (await load())([...args, ...globals], ctx);
}

/** The command whose --help a usage error points to: "secrets create", "deploy", or none. */
async function helpFor(argv: string[]): Promise<string> {
  const words = leadingGlobalFlags(argv).rest;
  if (words[0] === "secrets") {
    const { secretsCommands } = await import("./secrets.ts");
    const sub = leadingGlobalFlags(words.slice(1)).rest[0];
    return sub !== undefined && sub in secretsCommands ? `credbroker secrets ${sub} --help` : "credbroker secrets --help";
  }
  return words[0] !== undefined && words[0] in commands ? `credbroker ${words[0]} --help` : "credbroker --help";
}

const argv = process.argv.slice(2);
main(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`credbroker: ${errorLine(error)} (see: ${await helpFor(argv)})\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`credbroker: ${errorLine(error)}\n`);
    // a data dir a broker serves (rekey, fleet import) is a mistake in how the command was run, like a configuration one
    const busy = error instanceof CredbrokerError && error.code === "ERR_DATA_DIR_BUSY";
    process.exitCode = error instanceof ConfigError || busy ? 2 : 1;
  },
);
