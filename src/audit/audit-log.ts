import { mkdirSync, rmSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { AuditEventSchema, type AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { AuditClass, SecretStore } from "../store/secret-store.ts";
import { startAuditMover } from "./audit-mover.ts";
import { encodeAuditEvent, type AuditEventFields, type AuditEventOrigin } from "./event-encoding.ts";
import { frameRecord, recordHeaderBytes } from "./segment-record.ts";
import { readLeftoverSegments } from "./segment-replay.ts";
import { startSegmentWriter, type Segment } from "./segment-writer.ts";

/** Options of the audit log. */
export interface AuditLogOptions {
  /** The directory of the segment files, e.g. `<data dir>/audit`; created 0700 if missing. */
  directory: string;
  /** Gives out sequences, takes the moved events and lists them. */
  store: Pick<SecretStore, "nextEventSequence" | "putEvents" | "listEvents">;
  logger: Logger;
  /** The size of a segment file (default 1 MiB). */
  segmentBytes?: number | undefined;
  /** How far apart groups of events reach the disk, in milliseconds (default 50). */
  syncIntervalMs?: number | undefined;
  /**
   * How often written events move into the store, in milliseconds (default
   * 200; a full batch of 1000 moves at once). Each move is an LMDB commit
   * with its syncs: at a serial caller's few thousand Injects a second, a
   * 20 ms interval made 50 commits a second.
   */
  moveIntervalMs?: number | undefined;
  /** Names this sidecar in every event it writes. */
  origin?: AuditEventOrigin | undefined;
}

/**
 * The audit log of calls whose events are not part of a change: Injects,
 * reads and failures. An admin change's event commits in the change's own
 * transaction instead (commitAudited).
 */
export interface AuditLog {
  /**
   * Writes the event to this process's segment file before returning (handed
   * to the OS: a crash of the process cannot lose it); throws when it cannot,
   * ERR_STORE_FULL for a full disk, so that the call is refused.
   */
  append(fields: AuditEventFields, auditClass: AuditClass): void;
  /**
   * Takes the event into this event-loop turn's group, which is written with
   * one write(2) once the turn's calls have run (setImmediate); the promise
   * resolves once the group is handed to the OS, and rejects as append throws
   * when it cannot be (every event of the group is then refused). Throws at
   * once when the call is refused before any write.
   */
  appendGrouped(fields: AuditEventFields, auditClass: AuditClass): Promise<void>;
  /** As the store's listEvents, with the events not yet moved into it merged in. */
  listEvents(from: bigint, limit: number, name?: string): AuditEvent[];
  /** Moves every event written so far into the store. */
  flush(): Promise<void>;
  /** Moves what it can, syncs and closes the segment files; a segment fully moved is removed. */
  close(): Promise<void>;
}

/** Events written and not yet moved beyond which calls are refused: the store has stopped taking them. */
const maxPending = 100_000;

/** The events of one turn, written together into one segment. */
interface Group {
  readonly records: Buffer[];
  readonly sequences: number[];
  readonly classes: AuditClass[];
  bytes: number;
  /** Made for the first appendGrouped: what its callers wait on. */
  written: Promise<void> | undefined;
  settle: ((failure?: unknown) => void) | undefined;
}

/**
 * Opens the audit log: the segments an earlier process left are read and
 * moved into the store first (their sequences reserved before any new event
 * takes one), then events are appended to a segment of this process, synced
 * every 50 ms and moved into the store in batches by a background mover.
 * Segments are removed once every event in them is in the store.
 */
export async function openAuditLog(options: AuditLogOptions): Promise<AuditLog> {
  const { store, logger, origin } = options;
  mkdirSync(options.directory, { recursive: true, mode: 0o700 });
  // synchronous, so that close() leaves no segment that is fully moved; once a segment, not per event
  const retire = (segment: Segment) => {
    try {
      rmSync(segment.path, { force: true });
    } catch (err) {
      logger.warn({ err, segment: segment.path }, "audit segment not removed; the next start moves its events again");
    }
  };
  const mover = startAuditMover({ sink: store, batchSize: 1000, intervalMs: options.moveIntervalMs ?? 200, retire, logger });
  for (const { segment, records } of readLeftoverSegments(options.directory, logger)) {
    if (records.length === 0) {
      retire(segment);
    }
    for (const record of records) {
      // claiming a sequence at or above a replayed one puts every later one above it
      store.nextEventSequence(record.sequence);
      mover.add({ ...record, segment });
    }
  }
  const replayed = mover.pending().length;
  try {
    await mover.moveAll();
    if (replayed > 0) {
      logger.info({ events: replayed }, "moved the audit events an earlier process left in its segment files");
    }
  } catch (err) {
    logger.error({ err, events: replayed }, "audit events an earlier process left cannot be moved yet; they are listed, and moved later");
  }
  const writer = startSegmentWriter({
    directory: options.directory,
    segmentBytes: options.segmentBytes ?? 1024 * 1024,
    syncIntervalMs: options.syncIntervalMs ?? 50,
    onSeal: (segment) => {
      if (segment.unmoved === 0) {
        retire(segment);
      }
    },
    logger,
  });

  let group: Group | undefined;

  /** Encodes the event into the current group (one that would not fit in the current segment is written first). */
  function take(fields: AuditEventFields, auditClass: AuditClass): Group {
    if (mover.pending().length + (group?.records.length ?? 0) >= maxPending) {
      throw new CredbrokerError("ERR_UNAVAILABLE", "the audit log cannot move its events into the store; the call is refused");
    }
    const sequence = store.nextEventSequence(Number(fields.time.seconds) * 1e6 + Math.floor(fields.time.nanos / 1000));
    const record = frameRecord(encodeAuditEvent(fields, sequence, recordHeaderBytes, origin), auditClass, sequence);
    if (group !== undefined && group.bytes + record.length > writer.room()) {
      writeGroup();
    }
    group ??= { records: [], sequences: [], classes: [], bytes: 0, written: undefined, settle: undefined };
    group.records.push(record);
    group.sequences.push(sequence);
    group.classes.push(auditClass);
    group.bytes += record.length;
    return group;
  }

  /** Writes the current group, if any, and queues its events for the mover; throws (and rejects its waiters) when it cannot. */
  function writeGroup(): void {
    const done = group;
    if (done === undefined) {
      return;
    }
    group = undefined;
    let segment: Segment;
    try {
      segment = writer.write(done.records, done.bytes);
    } catch (cause) {
      const failure = isDiskFull(cause) ? new CredbrokerError("ERR_STORE_FULL", "the audit log's disk is full; the call is refused", { cause }) : cause;
      done.settle?.(failure);
      throw failure;
    }
    segment.unmoved += done.records.length;
    for (let i = 0; i < done.records.length; i++) {
      mover.add({ sequence: done.sequences[i]!, auditClass: done.classes[i]!, bytes: done.records[i]!.subarray(recordHeaderBytes), segment });
    }
    done.settle?.();
  }

  /** The group's turn is over: a failure reached its waiters, and is no one else's. */
  const writeGroupLater = () => {
    try {
      writeGroup();
    } catch {
      // rejected to the calls of the group
    }
  };

  return {
    append(fields, auditClass) {
      take(fields, auditClass);
      writeGroup();
    },

    appendGrouped(fields, auditClass) {
      const taken = take(fields, auditClass);
      if (taken.written === undefined) {
        taken.written = new Promise<void>((resolve, reject) => {
          taken.settle = (failure) => (failure === undefined ? resolve() : reject(failure as Error));
        });
        setImmediate(writeGroupLater);
      }
      return taken.written;
    },

    listEvents(from, limit, name) {
      // the events of calls still in their turn are written first, so that they are listed
      writeGroupLater();
      const stored = store.listEvents(from, limit, name);
      const seen = new Set(stored.map((event) => event.sequence));
      const unmoved: AuditEvent[] = [];
      for (const pending of mover.pending()) {
        if (unmoved.length >= limit) {
          break;
        }
        if (pending.sequence < Number(from) || seen.has(BigInt(pending.sequence))) {
          continue;
        }
        const event = fromBinary(AuditEventSchema, pending.bytes);
        if (name === undefined || event.secrets.some((secret) => secret.name === name)) {
          unmoved.push(event);
        }
      }
      if (unmoved.length === 0) {
        return stored;
      }
      return [...stored, ...unmoved].sort((a, b) => (a.sequence < b.sequence ? -1 : 1)).slice(0, limit);
    },

    flush: () => {
      writeGroupLater();
      return mover.moveAll();
    },

    async close() {
      writeGroupLater();
      await mover.close();
      await writer.close();
    },
  };
}

function isDiskFull(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
