import type { Logger } from "pino";
import type { CentralStore } from "../store/central-store.ts";
import type { AuditClass, EncodedAuditEvent } from "../store/secret-store.ts";
import { eventNames } from "./event-names.ts";

/** Where shipped events come from: this sidecar's local audit databases, its outbox. */
export interface AuditOutbox {
  /** Up to `limit` stored events of every class from sequence `from` on, oldest first, as stored. */
  listEncodedEvents(from: bigint, limit: number): EncodedAuditEvent[];
  /** As SecretStore.pruneEvents. */
  pruneEvents(before: bigint, keep: number, limit: number, auditClass?: AuditClass): Promise<number>;
}

/** Options of the audit shipper. */
export interface AuditShipperOptions {
  outbox: AuditOutbox;
  central: Pick<CentralStore, "insertEvents">;
  instanceId: string;
  logger: Logger;
  /** How often the outbox is shipped, in milliseconds (default 200). */
  intervalMs?: number | undefined;
  /** Events per batch (default 1000). */
  batchSize?: number | undefined;
}

/** Ships events to the central store in the background. */
export interface AuditShipper {
  /** Ships everything in the outbox now (for tests and shutdown); rejects if the central store cannot take it. */
  shipAll(): Promise<void>;
  /** Stops after the batch in flight, then tries once more to ship what is left. */
  close(): Promise<void>;
}

/**
 * Fleet mode's audit: events are written locally first (the audit log, fail
 * closed, as standalone), and this ships them to the central store in
 * batches. A batch is inserted before it leaves the outbox, and the central
 * store keeps one event per (sidecar, sequence): a batch shipped again after
 * a crash or an outage is stored once, and nothing is removed unshipped.
 * The newest shipped event stays in the outbox, so that the local sequence,
 * which a restart resumes from the outbox, never goes back.
 */
export function startAuditShipper(options: AuditShipperOptions): AuditShipper {
  const { outbox, central, instanceId, logger } = options;
  const batchSize = options.batchSize ?? 1000;
  let kept = -1;
  let running: Promise<void> | undefined;
  let failing = false;

  async function shipBatch(): Promise<boolean> {
    const batch = outbox.listEncodedEvents(0n, batchSize);
    if (batch.length === 0 || (batch.length === 1 && batch[0]!.sequence === kept)) {
      return false;
    }
    await central.insertEvents(batch.map((event) => ({ ...event, instanceId, names: eventNames(event.bytes) })));
    const newest = batch[batch.length - 1]!.sequence;
    for (const auditClass of ["main", "refused"] as const) {
      await outbox.pruneEvents(BigInt(newest), Number.MAX_SAFE_INTEGER, batchSize, auditClass);
    }
    kept = newest;
    return batch.length >= batchSize;
  }

  function shipAll(): Promise<void> {
    running ??= (async () => {
      try {
        while (await shipBatch()) {
          // a full batch: more is waiting
        }
        if (failing) {
          logger.info("audit: shipping events to the central store again");
        }
        failing = false;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const timer = setInterval(() => {
    shipAll().catch((err: unknown) => {
      if (!failing) {
        logger.warn({ err }, "audit: cannot ship events to the central store; they wait in the local outbox");
      }
      failing = true;
    });
  }, options.intervalMs ?? 200);
  timer.unref();

  return {
    shipAll,
    async close() {
      clearInterval(timer);
      await running?.catch(() => undefined);
      await shipAll().catch((err: unknown) => logger.warn({ err }, "audit: events left in the local outbox at shutdown; the next start ships them"));
    },
  };
}
