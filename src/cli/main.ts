#!/usr/bin/env node
import { ConfigError } from "../config/config.ts";
import { CredbrokerError } from "../errors.ts";
import { serve, serveUsage } from "./serve.ts";

const usage = `Usage: credbroker <command> [flags]

Commands:
  serve    run the broker (see: credbroker serve --help)
`;

/** The credbroker command line: exit 0 on success, 1 on an error, 2 on a usage error. */
async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "serve":
      if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(serveUsage);
        return 0;
      }
      await serve(args);
      return 0;
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(command === undefined ? usage : `credbroker: unknown command "${command}"\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof CredbrokerError) {
      process.stderr.write(`credbroker: ${error.message}\n`);
      process.exitCode = error instanceof ConfigError ? 2 : 1;
      return;
    }
    process.stderr.write(`credbroker: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
