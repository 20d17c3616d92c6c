import type { Logger } from "pino";
import type { CentralChange, CentralStore } from "./central-store.ts";
import type { LmdbStore } from "./lmdb-store.ts";

/** What the replica needs. */
export interface ReplicaOptions {
  central: CentralStore;
  /** This sidecar's LMDB, which the replica keeps in step with the central store. */
  local: LmdbStore;
  /** Called with each page before it is applied (e.g. so that a new keyring term is known before any record sealed under it is readable). */
  beforeApply?: ((changes: readonly CentralChange[]) => void) | undefined;
  logger: Logger;
  /** How often the head revision is checked, in milliseconds (default 2000): what catches a lost notification or a half-open connection. */
  checkIntervalMs?: number | undefined;
  /** Changes read per page, each applied in one LMDB transaction (default 1000). */
  pageSize?: number | undefined;
}

/** The replica's state, for health and metrics. */
export interface ReplicaStatus {
  /** Whether the last contact with the central store succeeded. */
  readonly connected: boolean;
  readonly epoch: string;
  /** The last revision applied to the replica. */
  readonly appliedRevision: bigint;
  /** The central store's head revision as last seen. */
  readonly headRevision: bigint;
  /** When the replica was last known to be current (applied the head it saw), or undefined. */
  readonly currentAt: Date | undefined;
}

/** This sidecar's LMDB as a live replica of the central store. */
export interface Replica {
  /**
   * Applies what the central store holds beyond the replica's position, then
   * follows it. With the central store unreachable, a replica that holds
   * data starts as it is (and catches up once it can); an empty one rejects.
   */
  start(): Promise<void>;
  /** Resolves once the replica has applied `revision` (a write's own, for read-your-writes), or after `timeoutMs`. */
  caughtUp(revision: bigint, timeoutMs?: number): Promise<boolean>;
  /** Catches up now and resolves when done (after a failed compare-and-swap, to see what won). */
  catchUp(): Promise<void>;
  status(): ReplicaStatus;
  close(): Promise<void>;
}

/** How long a head check may take before the connection counts as hung. */
const headTimeoutMs = 2_000;

/** Follows the central store: on start, on every notification, on every reconnect and on a timer. */
export function createReplica(options: ReplicaOptions): Replica {
  const { central, local, logger } = options;
  const pageSize = options.pageSize ?? 1000;
  // where the replica stands, as applyReplicated last recorded it ("" before it ever applied): this replica is its only writer
  const initial = local.replicaPosition();
  let epoch = initial?.epoch ?? "";
  let applied = initial?.revision ?? 0n;
  let head = applied;
  let connected = false;
  let currentAt: Date | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let stopListening: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const waiters = new Set<{ revision: bigint; resolve: (done: boolean) => void }>();
  // the highest revision notified since the last pass began: a pass it starts reads the changes up to it without asking for the head
  let notified: bigint | undefined;

  function settled(): void {
    for (const waiter of waiters) {
      if (applied >= waiter.revision) {
        waiters.delete(waiter);
        waiter.resolve(true);
      }
    }
  }

  async function pass(): Promise<void> {
    const hint = notified;
    notified = undefined;
    // a notification names its commit's revision: with the replica connected and positioned, one
    // query (the changes) per commit and sidecar instead of two; the periodic check and reconnects still ask
    const seen =
      hint !== undefined && connected && epoch !== ""
        ? { epoch, revision: hint > head ? hint : head }
        : await withTimeout(central.head(), headTimeoutMs);
    connected = true;
    head = seen.revision;
    // another database, or this one restored to an earlier state: what the replica holds cannot be trusted to follow
    let reset = epoch === "" || epoch !== seen.epoch || seen.revision < applied;
    if (reset && epoch !== "") {
      logger.warn({ epoch: seen.epoch, head: String(seen.revision), was: { epoch, revision: String(applied) } }, "replica: the central store is another or an earlier one; resyncing from scratch");
    }
    let after = reset ? 0n : applied;
    for (;;) {
      if (closed) {
        return;
      }
      const changes = await central.changes(after, pageSize);
      if (changes.length === 0 && !reset) {
        break;
      }
      const last = changes.length === 0 ? seen.revision : changes[changes.length - 1]!.revision;
      options.beforeApply?.(changes);
      await local.applyReplicated(changes, { epoch: seen.epoch, revision: last }, reset);
      reset = false;
      epoch = seen.epoch;
      after = last;
      applied = last;
      head = head > last ? head : last;
      settled();
      // a short page is not the end: changes() ends a page before a commit that does not fit whole
      if (last >= seen.revision) {
        break;
      }
    }
    if (applied >= seen.revision) {
      currentAt = new Date();
    }
  }

  function kick(): Promise<void> {
    if (closed) {
      return Promise.resolve();
    }
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await pass();
        } catch (err) {
          if (connected) {
            logger.error({ err }, "replica: cannot read the central store; serving what the replica holds");
          }
          connected = false;
          if (err instanceof HeadTimeout) {
            // a hung server or a half-open connection: new connections, so that the next try is not stuck behind it
            central.reset();
          }
          return;
        }
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    async start() {
      stopListening = central.listen(
        (revision) => {
          if (revision !== undefined && revision > applied) {
            notified = notified === undefined || revision > notified ? revision : notified;
          }
          void kick();
        },
        // every (re)connect of the listening connection: notifications sent while it was down are lost
        () => void kick(),
      );
      timer = setInterval(() => void kick(), options.checkIntervalMs ?? 2_000);
      timer.unref();
      try {
        await pass();
      } catch (err) {
        if (epoch === "") {
          clearInterval(timer);
          stopListening();
          throw err;
        }
        logger.warn({ err, revision: String(applied) }, "replica: the central store is unreachable; serving what the replica holds, writes refused until it is back");
      }
    },

    caughtUp(revision, timeoutMs = 5_000) {
      if (applied >= revision) {
        return Promise.resolve(true);
      }
      return new Promise((resolve) => {
        const waiter = {
          revision,
          resolve: (done: boolean) => {
            clearTimeout(expiry);
            resolve(done);
          },
        };
        const expiry = setTimeout(() => {
          waiters.delete(waiter);
          resolve(false);
        }, timeoutMs);
        waiters.add(waiter);
        void kick();
      });
    },

    async catchUp() {
      await kick();
      // a pass that was running when asked may have started before the change
      if (again || running !== undefined) {
        await kick();
      }
    },

    status: () => ({ connected, epoch, appliedRevision: applied, headRevision: head, currentAt }),

    async close() {
      closed = true;
      clearInterval(timer);
      stopListening?.();
      await running;
      for (const waiter of waiters) {
        waiter.resolve(false);
      }
      waiters.clear();
    },
  };
}

class HeadTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HeadTimeout(`no answer from the central store within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
