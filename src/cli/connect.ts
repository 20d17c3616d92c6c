import { createCredbrokerClient, parseBrokerAddress, type CredbrokerClient } from "../client/create-client.ts";
import { dataDirFiles } from "../broker/data-dir.ts";
import { loadCliConfig } from "../config/cli-config.ts";
import { CliError, UsageError, type CliContext } from "./command.ts";

/** The parsed global flags that bear on the connection. */
export interface ConnectionValues {
  addr?: string | undefined;
  "data-dir"?: string | undefined;
  "tls-ca-file"?: string | undefined;
  "tls-client-cert-file"?: string | undefined;
  "tls-client-key-file"?: string | undefined;
}

/**
 * Runs `use` with a client of the broker, closing it afterwards. SecretService
 * commands need the admin token; Inject sends CREDBROKER_INJECT_TOKEN, else
 * the admin token if there is one, else nothing (Inject may be open); health
 * needs none.
 */
export async function withClient<T>(
  values: ConnectionValues,
  ctx: CliContext,
  needs: "admin" | "inject" | "none",
  use: (client: CredbrokerClient) => Promise<T>,
): Promise<T> {
  const flags = {
    addr: values.addr,
    dataDir: values["data-dir"],
    tlsCaFile: values["tls-ca-file"],
    tlsClientCertFile: values["tls-client-cert-file"],
    tlsClientKeyFile: values["tls-client-key-file"],
  };
  const config = await loadCliConfig(flags, ctx.env, {
    tokens: needs !== "none",
    adminTokenFile: (dataDir) => dataDirFiles(dataDir).adminToken,
  });
  try {
    parseBrokerAddress(config.addr);
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause));
  }
  if (needs === "admin" && config.adminToken === undefined) {
    throw new CliError("ERR_NO_TOKEN", `no admin token: looked in ${config.adminTokenLookedUp}`);
  }
  const client = createCredbrokerClient({
    addr: config.addr,
    token: config.adminToken?.value,
    injectToken: config.injectToken?.value ?? config.adminToken?.value,
    tls: config.tls,
  });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}
