import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";

/**
 * A second writable handle on a running broker's store, in this process, as
 * another writer would have. It shares the broker's LMDB environment and
 * opens with a synchronous write transaction, which would deadlock if it
 * began while the broker's writer thread held the write lock waiting for
 * this thread: the audit mover moves the events of the last calls 20 ms
 * after them, so this waits for it to have done so first. Read-only checks
 * should open LMDB with readOnly instead.
 */
export async function openSecondHandle(dataDir: string): Promise<SecretStore> {
  await delay(250);
  return openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
}
