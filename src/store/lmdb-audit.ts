import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Database, RootDatabase } from "lmdb";
import { AuditEventSchema, type AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { LmdbStore } from "./lmdb-store.ts";
import { storeWriteError } from "./lmdb-write-error.ts";
import type { AuditClass, EncodedAuditEvent } from "./secret-store.ts";

/** The audit half of the LMDB store: what it answers of the seam, and what its commits need. */
export interface LmdbAudit {
  /** The store's audit methods. */
  readonly methods: Pick<
    LmdbStore,
    "nextEventSequence" | "sequenceEvents" | "putEvents" | "listEvents" | "listEncodedEvents" | "eventCount" | "pruneEvents"
  >;
  /** Puts sequenced events into the "main" class; call inside the change's transaction. */
  putSync(entries: readonly EncodedAuditEvent[]): void;
}

/**
 * Opens the two audit databases of an LMDB environment: events keyed by
 * sequence (microseconds since the epoch, bumped to stay unique, so time
 * ordered), the "refused" class in a database of its own so that counting
 * and pruning one class never touches the other.
 */
export function openLmdbAudit(root: RootDatabase, path: string): LmdbAudit {
  const audit: Database<Uint8Array, number> = root.openDB({ name: "audit", encoding: "binary" });
  const refused: Database<Uint8Array, number> = root.openDB({ name: "audit-refused", encoding: "binary" });
  const eventsOf = (auditClass: AuditClass) => (auditClass === "refused" ? refused : audit);
  let lastSequence = 0;
  for (const db of [audit, refused]) {
    for (const key of db.getKeys({ reverse: true, limit: 1 })) {
      lastSequence = Math.max(lastSequence, key);
    }
  }

  function nextEventSequence(micros: number): number {
    lastSequence = Math.max(lastSequence + 1, micros);
    return lastSequence;
  }

  return {
    putSync(entries) {
      for (const { sequence, bytes } of entries) {
        audit.putSync(sequence, bytes);
      }
    },

    methods: {
      nextEventSequence,

      sequenceEvents: (events) =>
        events.map((event) => {
          const micros = event.time === undefined ? 0 : Number(event.time.seconds) * 1e6 + Math.floor(event.time.nanos / 1000);
          const sequence = nextEventSequence(micros);
          event.sequence = BigInt(sequence);
          return { sequence, auditClass: "main", bytes: toBinary(AuditEventSchema, event) };
        }),

      async putEvents(events) {
        for (const { sequence } of events) {
          // a replayed event was sequenced by an earlier process: nothing later may reuse its sequence
          lastSequence = Math.max(lastSequence, sequence);
        }
        try {
          await root.childTransaction(() => {
            for (const { sequence, auditClass, bytes } of events) {
              eventsOf(auditClass).putSync(sequence, bytes);
            }
          });
          // the caller drops its copy once this resolves: the commit must be on disk, not just visible
          await root.flushed;
        } catch (cause) {
          throw await storeWriteError(cause, path);
        }
      },

      listEvents(from, limit, name) {
        // the first `limit` of each class hold the first `limit` of both, merged by sequence
        const merged = [...eventsFrom(audit, from, limit, name), ...eventsFrom(refused, from, limit, name)];
        return merged.sort((a, b) => (a.sequence < b.sequence ? -1 : 1)).slice(0, limit);
      },

      listEncodedEvents(from, limit) {
        const merged: EncodedAuditEvent[] = [];
        for (const auditClass of ["main", "refused"] as const) {
          for (const { key, value } of eventsOf(auditClass).getRange({ start: Number(from), limit })) {
            merged.push({ sequence: key, auditClass, bytes: value });
          }
        }
        return merged.sort((a, b) => a.sequence - b.sequence).slice(0, limit);
      },

      eventCount: (auditClass = "main") => (eventsOf(auditClass).getStats() as { entryCount: number }).entryCount,

      async pruneEvents(before, keep, limit, auditClass = "main") {
        const db = eventsOf(auditClass);
        try {
          return await root.childTransaction(() => {
            const excess = Math.max(0, (db.getStats() as { entryCount: number }).entryCount - keep);
            const doomed: number[] = [];
            for (const key of db.getKeys({ limit })) {
              if (doomed.length >= excess && key >= Number(before)) {
                break;
              }
              doomed.push(key);
            }
            for (const key of doomed) {
              db.removeSync(key);
            }
            return doomed.length;
          });
        } catch (cause) {
          throw await storeWriteError(cause, path);
        }
      },
    },
  };
}

/** Up to `limit` events of one audit database from sequence `from` on, oldest first; only those naming `name` when set. */
function eventsFrom(db: Database<Uint8Array, number>, from: bigint, limit: number, name: string | undefined): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const { value } of db.getRange({ start: Number(from) })) {
    const event = fromBinary(AuditEventSchema, value);
    if (name === undefined || event.secrets.some((secret) => secret.name === name)) {
      events.push(event);
      if (events.length >= limit) {
        break;
      }
    }
  }
  return events;
}
