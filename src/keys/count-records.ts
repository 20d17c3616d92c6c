import { everySeal } from "../store/every-record.ts";
import type { SecretStore } from "../store/secret-store.ts";

/**
 * Counts the records of both modes by the id of the key that wraps their
 * data key (0: no payload), from their seals alone, a page at a time with
 * the event loop let go in between: at 100,000 records one synchronous walk
 * held every Inject for 150-400 ms. A record rewrapped during the walk is
 * counted once, under whichever key its page was read with.
 */
export async function countRecordsByKey(store: Pick<SecretStore, "listSeals">, pageSize = 1000): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  let read = 0;
  for (const { seal } of everySeal(store, pageSize)) {
    const keyId = seal?.keyId ?? 0;
    counts.set(keyId, (counts.get(keyId) ?? 0) + 1);
    if (++read % pageSize === 0) {
      // everySeal holds no cursor between pages: the next one is read after the calls waiting now
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return counts;
}
