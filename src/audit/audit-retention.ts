import type { Logger } from "pino";
import type { SecretStore } from "../store/secret-store.ts";

/** Options of audit retention. */
export interface AuditRetentionOptions {
  /** Where events are kept. */
  store: SecretStore;
  /** The most events of the "main" class kept; older ones beyond it are removed. */
  maxEvents: number;
  /** The most events of the "refused" class kept, a cap of their own: refusals never evict the main record. */
  maxRefusedEvents: number;
  /** The oldest an event may get, in milliseconds. */
  maxAgeMs: number;
  /** How often a pass runs, in milliseconds. */
  intervalMs: number;
  /** The most events one transaction removes, so a pass never holds the write lock for long. */
  batchSize?: number;
  /** Told of a pass that failed (the next one retries). */
  logger: Logger;
}

/** Background retention of the audit log. */
export interface AuditRetention {
  /** One pass: removes what is beyond the bounds, batch by batch; resolves to how many events went. */
  runOnce(): Promise<number>;
  /** Stops the background passes; resolves when a running pass has ended. */
  stop(): Promise<void>;
}

/** Starts bounded background passes that keep each class of the audit log within its count, and all of it within its age. */
export function startAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const batchSize = options.batchSize ?? 1000;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function pass(): Promise<number> {
    let removed = 0;
    for (const [auditClass, keep] of [
      ["refused", options.maxRefusedEvents],
      ["main", options.maxEvents],
    ] as const) {
      for (;;) {
        const before = BigInt(Date.now() - options.maxAgeMs) * 1000n;
        const count = await options.store.pruneEvents(before, keep, batchSize, auditClass);
        removed += count;
        if (count < batchSize || stopped) {
          break;
        }
        // let calls in between batches
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return removed;
  }

  function runOnce(): Promise<number> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  const timer = setInterval(() => {
    runOnce().catch((err: unknown) => options.logger.error({ err }, "audit retention pass failed"));
  }, options.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => 0);
    },
  };
}
