import { ConfigError } from "./config-error.ts";
import { decodeMasterKey, type ConfiguredSecret } from "./secret-settings.ts";
import { readConfigFile, readSetting } from "./setting.ts";
import { serveSettings } from "./settings.ts";

/** What `credbroker rekey` works on. */
export interface RekeyConfig {
  /** The data dir whose keyring is re-wrapped. */
  dataDir: string;
  /** The master key that opens the keyring now. */
  oldMasterKey: ConfiguredSecret<Uint8Array>;
  /** The master key that seals it from now on. */
  newMasterKey: ConfiguredSecret<Uint8Array>;
}

/** The rekey flags. */
export interface RekeyFlags {
  /** `--data-dir`. */
  dataDir?: string | undefined;
  /** `--master-key-file`: the current key. */
  masterKeyFile?: string | undefined;
  /** `--new-master-key-file`. */
  newMasterKeyFile: string;
}

/**
 * Reads the rekey configuration as `serve` would find the data dir and the
 * current master key (the same settings): `--master-key-file`,
 * `CREDBROKER_MASTER_KEY`, else the data dir's generated `master.key`.
 */
export async function loadRekeyConfig(
  flags: RekeyFlags,
  env: NodeJS.ProcessEnv,
  /** The generated master key file of a data dir (the data dir's layout is the broker's). */
  generatedMasterKeyFile: (dataDir: string) => string,
): Promise<RekeyConfig> {
  // rekey takes serve's own flags for these two
  const given = { "data-dir": flags.dataDir, "master-key-file": flags.masterKeyFile };
  const dataDir = await readSetting(serveSettings.dataDir, given, env);
  const generated = generatedMasterKeyFile(dataDir);
  const oldMasterKey =
    (await readSetting(serveSettings.masterKey, given, env)) ??
    decodeMasterKey(await readConfigFile(generated, "the data dir's master.key"), generated);
  const newMasterKey = decodeMasterKey(
    await readConfigFile(flags.newMasterKeyFile, "--new-master-key-file"),
    `--new-master-key-file ${flags.newMasterKeyFile}`,
  );
  if (Buffer.compare(oldMasterKey.value, newMasterKey.value) === 0) {
    throw new ConfigError(`${newMasterKey.source} holds the current master key; a rekey needs a new one`);
  }
  return { dataDir, oldMasterKey, newMasterKey };
}
