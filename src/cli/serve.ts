import { loadConfig } from "../config/config.ts";
import { settingsHelp } from "../config/settings-help.ts";
import { serveSettings } from "../config/settings.ts";
import { createLogger } from "../server/logger.ts";
import { startBroker } from "../broker/start-broker.ts";

export const serveUsage = `Usage: credbroker serve [flags]

Runs the broker until SIGTERM or SIGINT. Flags override the environment;
a --*-file flag names a file that holds what its variable holds.

${settingsHelp(Object.values(serveSettings))}
Tokens are at least 32 characters, and the four are all different.
Without TLS, the gRPC and HTTP listeners must be loopback or unix sockets;
with TLS beyond loopback, Inject needs an inject token or a client CA.
`;

/** How long a shutdown waits for in-flight calls before closing connections. */
const drainMs = 10_000;

/** Runs the broker until SIGTERM or SIGINT, then drains it and closes the store; `env` goes to config only. */
export async function serve(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const config = await loadConfig(args, env);
  const logger = createLogger(config.logLevel);
  // listen for signals before serving, so that one arriving during start-up still drains
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve(signal);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  const broker = await startBroker(config, logger);
  logger.info({ signal: await stopped }, "draining");
  await broker.close(drainMs);
  logger.info("stopped");
  logger.flush();
  // everything the broker opened is closed; a dependency's leftover timer (postgres.js 3.4.9 leaves a
  // reconnect pending after end() when PostgreSQL was away) must not keep a stopped sidecar alive
  setTimeout(() => {
    logger.warn("stopped, but a leftover handle kept the process alive; exiting");
    logger.flush();
    process.exit(process.exitCode ?? 0);
  }, exitGraceMs).unref();
}

/** How long a stopped broker's process may take to end by itself. */
const exitGraceMs = 1_000;
