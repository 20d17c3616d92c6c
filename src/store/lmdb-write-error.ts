import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { CredbrokerError } from "../errors.ts";

/** A full map or disk becomes ERR_STORE_FULL; anything else stays as it is (an internal error). */
export async function storeWriteError(cause: unknown, path: string): Promise<unknown> {
  // lmdb rejects a failed commit with "Commit failed" and its reason in a promise, which
  // would also be an unhandled rejection (a crash) if nobody awaited it
  const commitError = (cause as { commitError?: unknown } | null)?.commitError;
  const reason =
    commitError instanceof Promise
      ? await Promise.race([commitError.then(() => cause, (error: unknown) => error), delay(2000, cause, { ref: false })])
      : cause;
  const code = (reason as { code?: unknown } | null)?.code;
  const full =
    reason instanceof Error &&
    (/MDB_MAP_FULL|ENOSPC|No space left on device/.test(reason.message) || code === 28 || (code === 5 && nearlyFull(path)));
  return full
    ? new CredbrokerError("ERR_STORE_FULL", "the store is full; writes are refused, reads keep serving", { cause: reason })
    : cause;
}

/**
 * Whether the file system of `path` has less than a megabyte left: LMDB
 * reports a page write that the disk could only take in part as EIO (a
 * short write), not ENOSPC, so a nearly full disk tells the two apart.
 */
function nearlyFull(path: string): boolean {
  const stats = statfsSync(dirname(path));
  return stats.bavail * stats.bsize < 1024 * 1024;
}
