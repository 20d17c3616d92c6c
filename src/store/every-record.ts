import type { SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { SecretStore } from "./secret-store.ts";

/** Every record of both modes (test, then live, each by name), read from the store page by page. */
export function* everyRecord(store: Pick<SecretStore, "list">, pageSize = 1000): Generator<SecretRecord> {
  for (const mode of [Mode.TEST, Mode.LIVE]) {
    for (let after = "", page = store.list(mode, after, pageSize); page.length > 0; page = store.list(mode, after, pageSize)) {
      yield* page;
      after = page[page.length - 1]!.secret?.name ?? "";
      if (page.length < pageSize) {
        break;
      }
    }
  }
}
