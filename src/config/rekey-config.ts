import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError } from "./config-error.ts";
import { decodeMasterKey, type ConfiguredSecret } from "./secret-settings.ts";

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
 * Reads the rekey configuration as `serve` would find the current master
 * key: `--master-key-file`, `CREDBROKER_MASTER_KEY`, else the data dir's
 * generated `master.key`.
 */
export async function loadRekeyConfig(flags: RekeyFlags, env: NodeJS.ProcessEnv): Promise<RekeyConfig> {
  const dataDir = resolve(flags.dataDir ?? nonEmpty(env["CREDBROKER_DATA_DIR"]) ?? "./data");
  const generated = join(dataDir, "master.key");
  const oldMasterKey =
    flags.masterKeyFile !== undefined
      ? decodeMasterKey(await readKeyFile(flags.masterKeyFile, "--master-key-file"), `--master-key-file ${flags.masterKeyFile}`)
      : env["CREDBROKER_MASTER_KEY"] !== undefined
        ? decodeMasterKey(env["CREDBROKER_MASTER_KEY"], "CREDBROKER_MASTER_KEY")
        : decodeMasterKey(await readKeyFile(generated, "the data dir's master.key"), generated);
  const newMasterKey = decodeMasterKey(
    await readKeyFile(flags.newMasterKeyFile, "--new-master-key-file"),
    `--new-master-key-file ${flags.newMasterKeyFile}`,
  );
  if (Buffer.compare(oldMasterKey.value, newMasterKey.value) === 0) {
    throw new ConfigError(`${newMasterKey.source} holds the current master key; a rekey needs a new one`);
  }
  return { dataDir, oldMasterKey, newMasterKey };
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`${what}: cannot read ${path} (${code})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
