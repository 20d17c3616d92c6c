import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { Logger } from "pino";
import { decodeMasterKey, type ConfiguredSecret } from "../config/secret-settings.ts";
import { CredbrokerError } from "../errors.ts";

/**
 * The data dir's generated master key at `path`. A key is generated only
 * while the store holds no keyring yet, so sealed data is never paired with
 * a fresh key.
 */
export async function generatedMasterKey(path: string, keyringStored: boolean, logger: Logger): Promise<Uint8Array> {
  if (keyringStored) {
    const existing = await readOrCreateSecretFile(path, () => {
      throw new CredbrokerError(
        "ERR_MASTER_KEY_MISMATCH",
        `the data dir holds sealed data but no master key: set CREDBROKER_MASTER_KEY or --master-key-file, or restore ${path}`,
      );
    });
    return decodeMasterKey(existing.value, path).value;
  }
  const file = await readOrCreateSecretFile(path, generateMasterKey);
  if (file.created) {
    logger.warn({ path }, "generated a development master key in the data dir; set CREDBROKER_MASTER_KEY or --master-key-file in production");
  }
  return decodeMasterKey(file.value, path).value;
}

/** The data dir's generated admin token at `path`, created when missing. */
export async function generatedAdminToken(path: string, logger: Logger): Promise<ConfiguredSecret<string>> {
  const file = await readOrCreateSecretFile(path, generateToken);
  if (file.created) {
    logger.warn({ path }, "generated an admin token in the data dir; SecretService callers send it as a bearer token");
  }
  return { value: file.value, source: path };
}

/**
 * Reads a generated secret file of the data dir, or creates it (mode 0600,
 * never overwriting: `wx`) when it does not exist.
 */
async function readOrCreateSecretFile(
  path: string,
  generate: () => string,
): Promise<{ value: string; created: boolean }> {
  try {
    return { value: (await readFile(path, "utf8")).trim(), created: false };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw cause;
    }
  }
  const value = generate();
  await writeFile(path, `${value}\n`, { mode: 0o600, flag: "wx" });
  return { value, created: true };
}

/** A new random master key: base64 of 32 bytes. */
function generateMasterKey(): string {
  return randomBytes(32).toString("base64");
}

/** A new random bearer token: 32 bytes, base64url. */
function generateToken(): string {
  return randomBytes(32).toString("base64url");
}
