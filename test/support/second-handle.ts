import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { UpdateSecretRequestSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";

/**
 * Writes to a running broker's store from another process, as another writer
 * with access to the data file would: a child process opens its own LMDB
 * handle (openLmdbStore) and writes through it. In the broker's own process a
 * second writable handle would share its LMDB environment and open with a
 * synchronous write transaction, which can deadlock against the audit
 * mover's; across processes LMDB's lock only makes one writer wait for the
 * other.
 */

/** A job for second-handle-writer.ts: an UpdateSecret through a SecretService on the second handle, or bits flipped in a sealed payload. */
export type SecondHandleJob =
  | ({ kind: "update"; dataDir: string; masterKey: string } & JsonUpdate)
  | { kind: "tamper"; dataDir: string; mode: Mode; name: string; field: "ciphertext" | "wrappedKey"; at: number; mask: number };

/** An UpdateSecret request without 64-bit fields, so that it travels as JSON. */
type JsonUpdate = Omit<MessageInitShape<typeof UpdateSecretRequestSchema>, "expectedVersion" | "$typeName">;

const writer = join(import.meta.dirname, "second-handle-writer.ts");

async function run(job: SecondHandleJob): Promise<void> {
  await promisify(execFile)(process.execPath, [writer, JSON.stringify(job)], { timeout: 30_000 });
}

/** Updates a secret through a SecretService of another process, over its own handle on the store. */
export function updateFromAnotherProcess(dataDir: string, masterKey: Uint8Array, request: JsonUpdate): Promise<void> {
  return run({ kind: "update", dataDir, masterKey: Buffer.from(masterKey).toString("base64"), ...request });
}

/** XORs `mask` into byte `at` (negative: from the end) of a stored record's sealed `field`, from another process, keeping its version. */
export function tamperFromAnotherProcess(dataDir: string, mode: Mode, name: string, change: { field: "ciphertext" | "wrappedKey"; at: number; mask: number }): Promise<void> {
  return run({ kind: "tamper", dataDir, mode, name, ...change });
}
