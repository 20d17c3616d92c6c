import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { checkConfig } from "./config-rules.ts";
import { checkPostgresEnvironment } from "./fleet-settings.ts";
import { ConfigError } from "./config-error.ts";
import { readSettings, type FlagValues, type SettingValues } from "./setting.ts";
import { serveSettings } from "./settings.ts";
import { readTlsMaterial, type TlsMaterial } from "./tls-material.ts";

/** The settings that loadConfig reads together into `tls`. */
type TlsFileSettings = "tlsCertFile" | "tlsKeyFile" | "tlsClientCaFile";

/**
 * The broker's configuration, read once at start-up: flags over environment
 * over defaults. One field per row of the settings table, except that the
 * three TLS files are read into `tls`.
 */
export type Config = Omit<SettingValues<typeof serveSettings>, TlsFileSettings> & {
  /**
   * TLS on the gRPC and HTTP listeners (not metrics), with client
   * certificates required when a client CA is set; undefined serves
   * cleartext, which the broker allows on loopback and unix sockets only.
   */
  tls: TlsMaterial | undefined;
};

/** The `serve` flags, as util.parseArgs options: one per setting that has a flag. */
export const serveOptions: ParseArgsOptionsConfig = {
  ...Object.fromEntries(
    Object.values(serveSettings).flatMap((setting) => ("flag" in setting ? [[setting.flag, { type: "string" }]] : [])),
  ),
  help: { type: "boolean", short: "h" },
};

/** Reads the configuration from `serve` arguments and the environment, and applies the rules across settings. */
export async function loadConfig(args: string[], env: NodeJS.ProcessEnv): Promise<Config> {
  let flags: FlagValues;
  try {
    flags = parseArgs({ args, options: serveOptions, strict: true, allowPositionals: false }).values;
  } catch (cause) {
    throw new ConfigError(cause instanceof Error ? cause.message : String(cause));
  }
  const { tlsCertFile, tlsKeyFile, tlsClientCaFile, ...values } = await readSettings(serveSettings, flags, env);
  const config: Config = { ...values, tls: await readTlsMaterial({ certFile: tlsCertFile, keyFile: tlsKeyFile, clientCaFile: tlsClientCaFile }) };
  checkConfig(config);
  checkPostgresEnvironment(config.postgresUrl, env);
  return config;
}

/** Every setting at its default, as `credbroker serve` with no flags and an empty environment runs. */
export function defaultConfig(): Promise<Config> {
  return loadConfig([], {});
}
