import { everyRecord } from "../store/every-record.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** Counts the records of both modes by the id of the key that wraps their data key. */
export function countRecordsByKey(store: SecretStore, pageSize = 1000): Map<number, number> {
  const counts = new Map<number, number>();
  for (const record of everyRecord(store, pageSize)) {
    const keyId = record.payload?.keyId ?? 0;
    counts.set(keyId, (counts.get(keyId) ?? 0) + 1);
  }
  return counts;
}
