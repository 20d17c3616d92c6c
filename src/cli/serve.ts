import { loadConfig } from "../config/config.ts";
import { createLogger } from "../server/logger.ts";
import { startBroker } from "../server/start-broker.ts";

export const serveUsage = `Usage: credbroker serve [flags]

Runs the broker until SIGTERM or SIGINT. Flags override the environment.

  --data-dir DIR            CREDBROKER_DATA_DIR      (default ./data)
  --listen ADDR             CREDBROKER_LISTEN        (default 127.0.0.1:7390; or unix:/path)
  --http-listen ADDR|off    CREDBROKER_HTTP_LISTEN   (default 127.0.0.1:7391)
  --master-key-file FILE    CREDBROKER_MASTER_KEY    (default: generated master.key in the data dir)
  --admin-token-file FILE   CREDBROKER_ADMIN_TOKEN   (default: generated admin.token in the data dir)
  --inject-token-file FILE  CREDBROKER_INJECT_TOKEN  (default: none, Inject open to local callers)
  --inject-token-test-file FILE  CREDBROKER_INJECT_TOKEN_TEST  (an inject token for test mode only)
  --inject-token-live-file FILE  CREDBROKER_INJECT_TOKEN_LIVE  (an inject token for live mode only)
  --metrics-listen ADDR|off CREDBROKER_METRICS_LISTEN (default 127.0.0.1:9464)
  --ui on|off               CREDBROKER_UI            (default on: the admin page at /ui/ on the HTTP listener)
  --tls-cert-file FILE      CREDBROKER_TLS_CERT_FILE (TLS on the gRPC and HTTP listeners, with --tls-key-file)
  --tls-key-file FILE       CREDBROKER_TLS_KEY_FILE
  --tls-client-ca-file FILE CREDBROKER_TLS_CLIENT_CA_FILE (require client certificates from this CA)
  --socket-group GROUP      CREDBROKER_SOCKET_GROUP  (unix sockets 0660 for this group; default 0600)
  --max-connections N       CREDBROKER_MAX_CONNECTIONS (per gRPC and HTTP listener; default from the open-files limit)

Tokens are at least 32 characters, and the four are all different.
Without TLS, the gRPC and HTTP listeners must be loopback or unix sockets;
with TLS beyond loopback, Inject needs an inject token or a client CA.
`;

/** How long a shutdown waits for in-flight calls before closing connections. */
const drainMs = 10_000;

/** Runs the broker until SIGTERM or SIGINT, then drains it and closes the store. */
export async function serve(args: string[]): Promise<void> {
  const config = await loadConfig(args, process.env);
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
}
