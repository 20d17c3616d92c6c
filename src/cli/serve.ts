import type { Logger } from "pino";
import { loadConfig } from "../config/config.ts";
import { createLogger } from "../server/logger.ts";
import { startBroker } from "../server/start-broker.ts";

export const serveUsage = `Usage: credbroker serve [flags]

Runs the broker. Flags override the environment; see README.md.

  --data-dir DIR            CREDBROKER_DATA_DIR      (default ./data)
  --listen ADDR             CREDBROKER_LISTEN        (default 127.0.0.1:7390)
  --http-listen ADDR|off    CREDBROKER_HTTP_LISTEN   (default 127.0.0.1:7391)
  --master-key-file FILE    CREDBROKER_MASTER_KEY    (default: generated master.key in the data dir)
  --admin-token-file FILE   CREDBROKER_ADMIN_TOKEN   (default: generated admin.token in the data dir)
  --inject-token-file FILE  CREDBROKER_INJECT_TOKEN  (default: none, Inject open to local callers)
`;

/** Runs the broker until SIGTERM or SIGINT, then drains and closes it. */
export async function serve(args: string[]): Promise<void> {
  const config = await loadConfig(args, process.env);
  const logger = createLogger(config.logLevel);
  const broker = await startBroker(config, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      logger.info({ signal }, "draining");
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  await broker.close(10_000);
  logStopped(logger);
}

function logStopped(logger: Logger): void {
  logger.info("stopped");
  logger.flush();
}
