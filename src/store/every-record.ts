import type { SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { ListedSeal, SecretStore } from "./secret-store.ts";

/** Every entry that `list` gives for both modes (test, then live, each by name), read page by page; `nameOf` tells where a page ended. */
function* everyListed<T>(list: (mode: Mode, afterName: string, limit: number) => T[], nameOf: (entry: T) => string, pageSize: number): Generator<T> {
  for (const mode of [Mode.TEST, Mode.LIVE]) {
    for (let after = "", page = list(mode, after, pageSize); page.length > 0; page = list(mode, after, pageSize)) {
      yield* page;
      after = nameOf(page[page.length - 1]!);
      if (page.length < pageSize) {
        break;
      }
    }
  }
}

/** Every record of both modes (test, then live, each by name), read from the store page by page. */
export function everyRecord(store: Pick<SecretStore, "list">, pageSize = 1000): Generator<SecretRecord> {
  return everyListed((mode, after, limit) => store.list(mode, after, limit), (record) => record.secret?.name ?? "", pageSize);
}

/** Every record's seal, in the same order, without decoding the records. */
export function everySeal(store: Pick<SecretStore, "listSeals">, pageSize = 1000): Generator<ListedSeal> {
  return everyListed((mode, after, limit) => store.listSeals(mode, after, limit), (listed) => listed.name, pageSize);
}
