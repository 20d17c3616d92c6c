import type { Logger } from "pino";
import type { EncodedAuditEvent, SecretStore } from "../store/secret-store.ts";
import type { Segment } from "./segment-writer.ts";

/**
 * Where written events go: takes a batch and resolves once it is durable
 * there, after which the segment's copy may go. The LMDB store is one; the
 * fleet's central store can be another.
 */
export type AuditSink = Pick<SecretStore, "putEvents">;

/** An event written to a segment and not yet moved to the sink. */
export interface PendingEvent extends EncodedAuditEvent {
  readonly segment: Segment;
}

/** Options of the mover. */
export interface AuditMoverOptions {
  sink: AuditSink;
  /** The most events one batch moves. */
  batchSize: number;
  /** How often a pass runs, in milliseconds; a full batch starts one at once. */
  intervalMs: number;
  /** Called for a sealed segment once every one of its events is moved. */
  retire(segment: Segment): void;
  /** Told when the sink refuses a batch (the next pass retries it). */
  logger: Logger;
}

/** Moves written events into the sink in batches, oldest first. */
export interface AuditMover {
  /** Queues an event just written to its segment. */
  add(event: PendingEvent): void;
  /** The events not yet moved, oldest first (a batch being moved included). */
  pending(): readonly PendingEvent[];
  /** Moves every event queued so far; rejects with the sink's error when it refuses one. */
  moveAll(): Promise<void>;
  /** Stops the passes and moves what is queued; a refusal is logged, and the segments keep the events. */
  close(): Promise<void>;
}

const refusedRetryMs = 1000;

/**
 * Starts a mover whose passes run on a timer, or as soon as a batch is full.
 * A pass moves one batch of what is queued, then goes on only while a full
 * batch waits.
 */
export function startAuditMover(options: AuditMoverOptions): AuditMover {
  const queue: PendingEvent[] = [];
  let running: Promise<void> | undefined;
  let refusing = false;
  let refusedAt = 0;
  let closed = false;

  async function pass(): Promise<void> {
    let more = queue.length > 0;
    while (more) {
      const batch = queue.slice(0, options.batchSize);
      await options.sink.putEvents(batch);
      queue.splice(0, batch.length);
      for (const { segment } of batch) {
        segment.unmoved -= 1;
        if (segment.unmoved === 0 && segment.sealed) {
          options.retire(segment);
        }
      }
      // only a full batch goes on at once: under a steady trickle the events queued during a
      // commit wait for the next interval, so a serial caller costs a commit per interval, not
      // one per commit's own duration (with its syncs, hundreds a second)
      more = queue.length >= options.batchSize;
    }
  }

  function run(): Promise<void> {
    running ??= pass()
      .then(() => {
        if (refusing) {
          refusing = false;
          options.logger.info("audit events move into the store again");
        }
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  async function moveAll(): Promise<void> {
    // a pass that started earlier may stop short of what was queued since: run again until empty
    while (queue.length > 0) {
      await (running ?? run());
    }
  }

  function runInBackground(): void {
    run().catch((err: unknown) => {
      refusedAt = Date.now();
      // said once per spell of refusals, not once per pass
      if (!refusing) {
        refusing = true;
        options.logger.error({ err, pending: queue.length }, "audit events cannot be moved into the store; they stay in the segment files");
      }
    });
  }

  const timer = setInterval(() => {
    // a store that refuses (a full disk) is asked again once a second, not at every interval
    if (queue.length > 0 && (!refusing || Date.now() - refusedAt >= refusedRetryMs)) {
      runInBackground();
    }
  }, options.intervalMs);
  timer.unref();

  return {
    add(event) {
      queue.push(event);
      if (queue.length === options.batchSize && !closed) {
        setImmediate(runInBackground);
      }
    },

    pending: () => queue,

    moveAll,

    async close() {
      closed = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
      try {
        await moveAll();
      } catch (err) {
        options.logger.error({ err, pending: queue.length }, "audit events left in the segment files at close; the next start moves them");
      }
    },
  };
}
