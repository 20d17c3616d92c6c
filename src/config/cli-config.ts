import { readFile } from "node:fs/promises";
import type { ClientTlsOptions } from "../client/create-client.ts";
import { loadClientTls } from "./client-tls.ts";
import { ConfigError } from "./config-error.ts";
import { checkedToken, type ConfiguredSecret } from "./secret-settings.ts";
import { readSetting } from "./setting.ts";
import { serveSettings } from "./settings.ts";

/** Where the `credbroker` client commands find the broker, and the tokens they send. */
export interface CliConfig {
  /** The broker's gRPC address: `host:port`, `[v6]:port` or `unix:/path`. */
  addr: string;
  /** The admin token, or undefined when none is configured or found in the data dir. */
  adminToken: ConfiguredSecret<string> | undefined;
  /** Where the admin token was looked for, for the message when there is none. */
  adminTokenLookedUp: string;
  /** The token sent to InjectService, when the broker requires one; undefined means the admin token (if any). */
  injectToken: ConfiguredSecret<string> | undefined;
  /** TLS to the broker (see loadClientTls); undefined means cleartext. */
  tls: ClientTlsOptions | undefined;
}

/** The global flags that bear on the connection. */
export interface CliConnectionFlags {
  /** `--addr`. */
  addr?: string | undefined;
  /** `--data-dir`. */
  dataDir?: string | undefined;
  /** `--tls-ca-file`. */
  tlsCaFile?: string | undefined;
  /** `--tls-client-cert-file`. */
  tlsClientCertFile?: string | undefined;
  /** `--tls-client-key-file`. */
  tlsClientKeyFile?: string | undefined;
}

/**
 * Reads the client commands' configuration: flags over environment over
 * defaults; the broker's own settings are read as serve reads them (the
 * settings table). The address is `--addr`, `CREDBROKER_ADDR`, the broker's
 * own `CREDBROKER_LISTEN`, or its default. The admin token is
 * `CREDBROKER_TOKEN`, the broker's own `CREDBROKER_ADMIN_TOKEN`, or the
 * `admin.token` file of the data dir (`--data-dir`, `CREDBROKER_DATA_DIR`,
 * ./data). TLS: `--tls-ca-file` (`CREDBROKER_TLS_CA_FILE`), else the broker's
 * own `CREDBROKER_TLS_CERT_FILE`, pinned; a client certificate from
 * `--tls-client-cert-file`/`--tls-client-key-file` (or their variables).
 */
export async function loadCliConfig(
  flags: CliConnectionFlags,
  env: NodeJS.ProcessEnv,
  {
    tokens = true,
    adminTokenFile,
  }: {
    /** false skips the tokens (health needs none, and must not fail on them) */
    tokens?: boolean;
    /** The generated admin token file of a data dir (the data dir's layout is the broker's). */
    adminTokenFile: (dataDir: string) => string;
  },
): Promise<CliConfig> {
  const { listen, dataDir: dataDirSetting, adminToken: adminTokenSetting, injectToken, tlsCertFile } = serveSettings;
  const addr = flags.addr ?? nonEmpty(env["CREDBROKER_ADDR"]) ?? (await readSetting(listen, {}, env));
  const dataDir = await readSetting(dataDirSetting, { "data-dir": flags.dataDir }, env);
  const tokenFile = adminTokenFile(dataDir);
  const adminToken = !tokens
    ? undefined
    : (fromEnv(env, "CREDBROKER_TOKEN") ?? fromEnv(env, adminTokenSetting.env) ?? (await fromFile(tokenFile)));
  const tls = await loadClientTls({
    caFile: flags.tlsCaFile ?? nonEmpty(env["CREDBROKER_TLS_CA_FILE"]),
    brokerCertFile: nonEmpty(env[tlsCertFile.env]),
    clientCertFile: flags.tlsClientCertFile ?? nonEmpty(env["CREDBROKER_TLS_CLIENT_CERT_FILE"]),
    clientKeyFile: flags.tlsClientKeyFile ?? nonEmpty(env["CREDBROKER_TLS_CLIENT_KEY_FILE"]),
  });
  return {
    addr,
    adminToken,
    adminTokenLookedUp: `CREDBROKER_TOKEN, ${adminTokenSetting.env} and ${tokenFile}`,
    injectToken: tokens ? fromEnv(env, injectToken.env) : undefined,
    tls,
  };
}

function fromEnv(env: NodeJS.ProcessEnv, name: string): ConfiguredSecret<string> | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : checkedToken(value, name);
}

async function fromFile(path: string): Promise<ConfiguredSecret<string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    if (code === "ENOENT") {
      return undefined;
    }
    throw new ConfigError(`cannot read ${path} (${code})`);
  }
  return checkedToken(text.trim(), path);
}


function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
