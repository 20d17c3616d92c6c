import { everySeal } from "../store/every-record.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** Counts the records of both modes by the id of the key that wraps their data key (0: no payload), from their seals alone. */
export function countRecordsByKey(store: Pick<SecretStore, "listSeals">, pageSize = 1000): Map<number, number> {
  const counts = new Map<number, number>();
  for (const { seal } of everySeal(store, pageSize)) {
    const keyId = seal?.keyId ?? 0;
    counts.set(keyId, (counts.get(keyId) ?? 0) + 1);
  }
  return counts;
}
