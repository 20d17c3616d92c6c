import { create } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { SecretRecordSchema, type SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { SealKey } from "../store/record-seal.ts";
import type { SecretStore, StoreWrite } from "../store/secret-store.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { Keyring } from "./keyring.ts";

/** What the rewrapper needs. */
export interface RewrapperOptions {
  /** Where records live. */
  store: SecretStore;
  /** Rewraps data keys under the keyring's active key. */
  sealer: Sealer;
  /** The keyring whose active key records move to. */
  keyring: Keyring;
  /** Where progress and skipped records are logged (by name, never a value). */
  logger: Logger;
  /** Records per transaction (default 500). */
  batchSize?: number | undefined;
}

/**
 * The background task that moves every record's data key to the active
 * keyring key. It keeps no cursor: the work is every record whose key id is
 * not the active one (or whose envelope is format 1), so a restart simply
 * starts over and finds only what is left.
 */
export interface Rewrapper {
  /** Starts a pass now, or another one after the current pass. */
  kick(): void;
  /** Whether a pass is running or queued. */
  readonly running: boolean;
  /** Resolves when no pass is running or queued (for tests and shutdown). */
  idle(): Promise<void>;
  /** Stops after the batch in flight; no pass starts afterwards. */
  close(): Promise<void>;
}

/** A Rewrapper over a store, its sealer and keyring. */
export function createRewrapper(options: RewrapperOptions): Rewrapper {
  const { store, sealer, keyring, logger } = options;
  const batchSize = options.batchSize ?? 500;
  let closed = false;
  let again = false;
  let current: Promise<void> | undefined;

  function isStale(seal: SealKey): boolean {
    return seal.keyId !== keyring.activeKeyId || seal.format === 1;
  }

  function needsRewrap(record: SecretRecord): boolean {
    return record.payload !== undefined && isStale(record.payload);
  }

  /** One batch's writes: a record that fails to open is logged and left as it is. */
  function rewrapWrites(records: SecretRecord[]): StoreWrite[] {
    const writes: StoreWrite[] = [];
    for (const record of records) {
      const secret = record.secret;
      if (secret === undefined || record.payload === undefined || !needsRewrap(record)) {
        continue;
      }
      try {
        const payload = sealer.rewrap(bindingOf(secret), record.payload);
        if (payload !== undefined) {
          writes.push({
            kind: "put",
            // the record as read (its deploy origin too), only its seal replaced
            record: create(SecretRecordSchema, { ...record, payload }),
            expectVersion: secret.version,
            expectWrappedKey: record.payload.wrappedKey,
          });
        }
      } catch (error) {
        logger.error({ name: secret.name, mode: secret.mode, keyId: record.payload.keyId, err: error }, "rewrap: record does not open; left as it is");
      }
    }
    return writes;
  }

  /** Commits a batch; a record changed meanwhile is dropped from it (new writes use the active key already). */
  async function commitBatch(writes: StoreWrite[]): Promise<{ written: number; skipped: number }> {
    let pending = writes;
    let skipped = 0;
    while (pending.length > 0) {
      const conflict = await store.commit(pending);
      if (conflict === undefined) {
        return { written: pending.length, skipped };
      }
      pending = pending.filter(
        (write) => !(write.kind === "put" && write.record.secret?.mode === conflict.mode && write.record.secret.name === conflict.name),
      );
      skipped += 1;
    }
    return { written: 0, skipped };
  }

  async function pass(): Promise<{ written: number; skipped: number }> {
    let written = 0;
    let skipped = 0;
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      let after = "";
      for (;;) {
        if (closed) {
          return { written, skipped };
        }
        // the seals alone tell which records move: only those are read in full
        const page = store.listSeals(mode, after, batchSize);
        if (page.length === 0) {
          break;
        }
        after = page[page.length - 1]!.name;
        const moving = page.filter(({ seal }) => seal !== undefined && isStale(seal)).map(({ name }) => store.get(mode, name));
        const result = await commitBatch(rewrapWrites(moving.filter((record) => record !== undefined)));
        written += result.written;
        skipped += result.skipped;
        // let calls in between batches
        await new Promise((resolve) => setImmediate(resolve));
        if (page.length < batchSize) {
          break;
        }
      }
    }
    return { written, skipped };
  }

  async function run(): Promise<void> {
    do {
      again = false;
      const activeKeyId = keyring.activeKeyId;
      const { written, skipped } = await pass();
      if (written > 0 || skipped > 0) {
        logger.info({ activeKeyId, rewrapped: written, skipped }, "rewrap pass done");
      }
      // skipped records changed during the pass; look once more for any still on an old key
      again ||= skipped > 0;
    } while (again && !closed);
  }

  function kick(): void {
    if (closed) {
      return;
    }
    if (current !== undefined) {
      again = true;
      return;
    }
    current = run()
      .catch((error: unknown) => logger.error({ err: error }, "rewrap failed; it resumes at the next start or rotation"))
      .finally(() => {
        current = undefined;
      });
  }

  return {
    kick,
    get running() {
      return current !== undefined;
    },
    idle: async () => {
      while (current !== undefined) {
        await current;
      }
    },
    async close() {
      closed = true;
      await current;
    },
  };
}
