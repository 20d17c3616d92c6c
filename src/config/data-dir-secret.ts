import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";

/**
 * Reads a generated secret file of the data dir, or creates it (mode 0600,
 * never overwriting: `wx`) when it does not exist.
 */
export async function readOrCreateSecretFile(
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
export function generateMasterKey(): string {
  return randomBytes(32).toString("base64");
}

/** A new random bearer token: 32 bytes, base64url. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}
