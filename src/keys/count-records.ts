import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** Counts the records of both modes by the id of the key that wraps their data key. */
export function countRecordsByKey(store: SecretStore, pageSize = 1000): Map<number, number> {
  const counts = new Map<number, number>();
  for (const mode of [Mode.TEST, Mode.LIVE]) {
    for (let after = "", page = store.list(mode, after, pageSize); page.length > 0; page = store.list(mode, after, pageSize)) {
      for (const record of page) {
        const keyId = record.payload?.keyId ?? 0;
        counts.set(keyId, (counts.get(keyId) ?? 0) + 1);
      }
      after = page[page.length - 1]!.secret?.name ?? "";
      if (page.length < pageSize) {
        break;
      }
    }
  }
  return counts;
}
