import { toBinary } from "@bufbuild/protobuf";
import type { PendingQuery, Row } from "postgres";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { ConflictAbort, openCentralConnection, type Db, type Tx } from "./central-connection.ts";
import type { AuditClass, EncodedAuditEvent, StoreConflict, StoreWrite } from "./secret-store.ts";

/** Options of the central store. */
export interface CentralStoreOptions {
  /** The PostgreSQL URL (holds a password: never logged). */
  url: string;
  /** The schema of the fleet's tables, an identifier checked by config. */
  schema: string;
  /** Names this sidecar: its audit events and its connections (application_name). */
  instanceId: string;
  /** The most a write may take before it answers UNAVAILABLE, in milliseconds (default 3000: a refusal within the 5 s the contract allows, with room for a loaded machine). */
  writeTimeoutMs?: number | undefined;
}

/** The store's identity and head: another epoch is another database, or one restored. */
export interface CentralHead {
  readonly epoch: string;
  readonly revision: bigint;
}

/** One committed change, in revision order: a record (put or tombstone) or a meta value. */
export type CentralChange =
  | {
      readonly kind: "record";
      readonly revision: bigint;
      readonly mode: Mode;
      readonly name: string;
      readonly version: bigint;
      /** The SecretRecord bytes; undefined for a tombstone. */
      readonly record: Uint8Array | undefined;
      readonly sealOnly: boolean;
    }
  | { readonly kind: "meta"; readonly revision: bigint; readonly key: string; readonly value: Uint8Array };

/** An audit event as the fleet keeps it: its sidecar, sequence, class, names and bytes. */
export interface CentralEvent extends EncodedAuditEvent {
  readonly instanceId: string;
  readonly names: readonly string[];
}

/** The fleet's source of truth on PostgreSQL: sealed records, the keyring, every sidecar's audit events. */
export interface CentralStore {
  /** The identity and head revision. */
  head(): Promise<CentralHead>;
  /** As SecretStore.commit, in one PostgreSQL transaction; resolves to the commit's revision or the conflict. */
  commit(writes: readonly StoreWrite[], events: readonly CentralEvent[]): Promise<{ conflict: StoreConflict } | { revision: bigint }>;
  /** Writes a meta value if `expected` is still stored (undefined: if absent); undefined when it was not. */
  putMeta(key: string, value: Uint8Array, expected: Uint8Array | undefined): Promise<bigint | undefined>;
  /**
   * Changes after a revision, oldest first, up to about `limit`: whole
   * commits only, so a page never ends inside one.
   */
  changes(after: bigint, limit: number): Promise<CentralChange[]>;
  /** Stores shipped events; one already stored (same sidecar and sequence) is left as it is. */
  insertEvents(events: readonly CentralEvent[]): Promise<void>;
  /** The protobuf bytes of up to `limit` events from (sequence, instance) on, oldest first; only those naming `name` when set. */
  listEvents(fromSequence: bigint, fromInstance: string, limit: number, name?: string): Promise<Uint8Array[]>;
  /** As SecretStore.pruneEvents, across the fleet's events. */
  pruneEvents(before: bigint, keep: number, limit: number, auditClass: AuditClass): Promise<number>;
  /** Whether the store holds no record and no meta value (an import's target). */
  isEmpty(): Promise<boolean>;
  /** Writes records and meta values into an empty store in one transaction, as they are. */
  importAll(records: readonly { mode: Mode; name: string; version: bigint; wrappedKey: Uint8Array | undefined; bytes: Uint8Array }[], meta: readonly { key: string; value: Uint8Array }[]): Promise<bigint>;
  /**
   * Calls `onNotify` with the revision of every commit's notification and `onListen` each time
   * the listening connection is (re)established; the returned function stops.
   */
  listen(onNotify: (revision: bigint | undefined) => void, onListen: () => void): () => void;
  /** Drops every connection and opens new ones (a hung server, a half-open connection); listening resumes. */
  reset(): void;
  close(): Promise<void>;
}

/** Records an import writes per statement. */
const importBatch = 1000;

/** The central store's statements, over a pool of connections (central-connection.ts). */
export function openCentralStore(options: CentralStoreOptions): CentralStore {
  const connection = openCentralConnection(options);
  const { table, write, read, channel } = connection;
  const { schema } = options;

  /** Takes the next revision under the state row's lock: revision order is commit order. */
  async function nextRevision(tx: Tx): Promise<bigint> {
    const [state] = await tx<{ revision: bigint }[]>`UPDATE ${table("state")} SET revision = revision + 1 RETURNING revision`;
    return state!.revision;
  }

  const central: CentralStore = {
    head: () =>
      read(async (sql) => {
        const [state] = await sql<{ epoch: string; revision: bigint }[]>`SELECT epoch::text AS epoch, revision FROM ${table("state")}`;
        return { epoch: state!.epoch, revision: state!.revision };
      }),

    commit(writes, events) {
      return write(async (tx, check) => {
        if (writes.length === 0) {
          await insertEventRows(tx, events);
          return { revision: 0n };
        }
        // the state row is locked first, by every writer: commits take turns
        const revision = await nextRevision(tx);
        // each statement costs two round trips under the state row's lock (unprepared, see central-connection.ts), and
        // every other writer waits for them: one statement checks every name, one writes every change with the events
        // and the notification (delivered at commit, in commit order, to every listening sidecar). A name given twice
        // is written a change at a time, each checked against the one before.
        const keyed = writes.map((write) => ({ write, ...writeKey(write) }));
        const distinct = new Set(keyed.map(({ mode, name }) => `${mode}/${name}`)).size === keyed.length;
        const runs = distinct ? [keyed] : keyed.map((one) => [one]);
        for (const [i, run] of runs.entries()) {
          check();
          const stored = await storedStates(tx, run);
          for (const { write, mode, name } of run) {
            expectStored(write, mode, name, stored.get(`${mode}/${name}`));
          }
          check();
          const last = i === runs.length - 1;
          await tx`WITH ${changedRows(tx, run, revision)}
            ${last ? tx`, shipped AS (${eventRowsInsert(tx, events)}) SELECT pg_notify(${channel}, ${String(revision)})` : tx`SELECT 1`}`;
        }
        return { revision };
      }).catch((error: unknown) => {
        if (error instanceof ConflictAbort) {
          return { conflict: error.conflict };
        }
        throw error;
      });
    },

    putMeta(key, value, expected) {
      return write(async (tx) => {
        const revision = await nextRevision(tx);
        const [row] = await tx<{ value: Buffer }[]>`SELECT value FROM ${table("meta")} WHERE key = ${key}`;
        if (expected === undefined ? row !== undefined : row === undefined || Buffer.compare(row.value, expected) !== 0) {
          throw new ConflictAbort({ mode: Mode.UNSPECIFIED, name: key, actualVersion: 0n });
        }
        await tx`INSERT INTO ${table("meta")} ${tx({ key, revision, value: Buffer.from(value) })}
          ON CONFLICT (key) DO UPDATE SET revision = EXCLUDED.revision, value = EXCLUDED.value`;
        await tx`SELECT pg_notify(${channel}, ${String(revision)})`;
        return revision;
      }).catch((error: unknown) => {
        if (error instanceof ConflictAbort) {
          return undefined;
        }
        throw error;
      });
    },

    changes: (after, limit) =>
      read(async (sql) => {
        const rows = await changeRows(sql, sql`> ${after}`, sql`ORDER BY revision, kind, mode, name LIMIT ${limit}`);
        if (rows.length < limit) {
          return rows.map(toChange);
        }
        // the page may end inside its last commit: that commit comes whole, in this page or the next
        const last = rows[rows.length - 1]!.revision;
        const whole = rows.filter((row) => row.revision !== last);
        if (whole.length > 0) {
          return whole.map(toChange);
        }
        const commit = await changeRows(sql, sql`= ${last}`, sql``);
        return commit.map(toChange);
      }),

    insertEvents: (events) =>
      read(async (sql) => {
        await insertEventRows(sql, events);
      }),

    listEvents: (fromSequence, fromInstance, limit, name) =>
      read(async (sql) => {
        const rows = await sql<{ event: Buffer }[]>`
          SELECT event FROM ${table("audit_events")}
          WHERE (sequence, instance_id) >= (${fromSequence}, ${fromInstance}) ${name === undefined ? sql`` : sql`AND ${name} = ANY(names)`}
          ORDER BY sequence, instance_id LIMIT ${limit}`;
        return rows.map((row) => new Uint8Array(row.event));
      }),

    pruneEvents: (before, keep, limit, auditClass) =>
      read(async (sql) => {
        const [counted] = await sql<{ count: bigint }[]>`SELECT count(*) AS count FROM ${table("audit_events")} WHERE audit_class = ${auditClass}`;
        const excess = Math.max(0, Number(counted!.count) - keep);
        const removed = await sql`
          DELETE FROM ${table("audit_events")} WHERE (sequence, instance_id) IN (
            SELECT sequence, instance_id FROM (
              SELECT sequence, instance_id, row_number() OVER (ORDER BY sequence, instance_id) AS n
              FROM ${table("audit_events")} WHERE audit_class = ${auditClass} ORDER BY sequence, instance_id LIMIT ${limit}
            ) AS oldest WHERE n <= ${excess} OR sequence < ${before})`;
        return removed.count;
      }),

    isEmpty: () => read(isEmptyIn),

    importAll(records, meta) {
      return write(async (tx) => {
        if (!(await isEmptyIn(tx))) {
          throw new CredbrokerError("ERR_STORE_INCOMPATIBLE", `the central store (schema ${schema}) already holds data; an import needs an empty one`);
        }
        const revision = await nextRevision(tx);
        for (const { key, value } of meta) {
          await tx`INSERT INTO ${table("meta")} ${tx({ key, revision, value: Buffer.from(value) })}`;
        }
        // a statement per 1,000 records, not one per record: each costs two round trips
        for (let start = 0; start < records.length; start += importBatch) {
          const rows = records.slice(start, start + importBatch).map((record) => ({
            mode: record.mode,
            name: record.name,
            revision,
            version: record.version,
            deleted: false,
            seal_only: false,
            wrapped_key: record.wrappedKey === undefined ? null : Buffer.from(record.wrappedKey),
            record: Buffer.from(record.bytes),
          }));
          await recordsUpsert(tx, rows, revision);
        }
        await tx`SELECT pg_notify(${channel}, ${String(revision)})`;
        return revision;
      });
    },

    listen: connection.listen,
    reset: connection.reset,
    close: connection.close,
  };

  /** The records and meta values whose revision passes `revision` (a fragment such as `> 5`), as change rows. */
  function changeRows(target: Db, revision: PendingQuery<Row[]>, tail: PendingQuery<Row[]>): Promise<ChangeRow[]> {
    return target<ChangeRow[]>`
      SELECT 'record' AS kind, mode, name, revision, version, seal_only, record AS value FROM ${table("records")} WHERE revision ${revision}
      UNION ALL
      SELECT 'meta', 0, key, revision, 0, false, value FROM ${table("meta")} WHERE revision ${revision}
      ${tail}`;
  }

  /** Whether the store holds no record and no meta value. */
  async function isEmptyIn(target: Db | Tx): Promise<boolean> {
    const [row] = await target<{ empty: boolean }[]>`
      SELECT NOT EXISTS (SELECT 1 FROM ${table("records")}) AND NOT EXISTS (SELECT 1 FROM ${table("meta")}) AS empty`;
    return row!.empty;
  }

  /**
   * One statement per batch, with two parameters: the events' bytes as one
   * bytea, and one line per event (sequence, instance, class, names, offset
   * and length in the bytea, tab-separated) as one text that PostgreSQL
   * splits. A parameter per value (or an array per column) made the client's
   * encoding 8-15 µs an event, more than the rest of an Inject's audit. No
   * field holds a tab or a line break: instance ids and classes are
   * printable without spaces, and names hold no space (checkName), so a
   * row's names travel space-separated.
   */
  async function insertEventRows(target: Db | Tx, events: readonly CentralEvent[]): Promise<void> {
    if (events.length > 0) {
      await eventRowsInsert(target, events);
    }
  }

  /** The statement that inserts events (one already stored is left as it is), to run alone or inside another. */
  function eventRowsInsert(target: Db | Tx, events: readonly CentralEvent[]) {
    const lines: string[] = [];
    let offset = 1;
    for (const event of events) {
      lines.push(`${event.sequence}\t${event.instanceId}\t${event.auditClass}\t${event.names.join(" ")}\t${offset}\t${event.bytes.length}`);
      offset += event.bytes.length;
    }
    const blob = Buffer.concat(events.map((event) => event.bytes));
    return target`
      INSERT INTO ${table("audit_events")} (sequence, instance_id, audit_class, names, event)
      SELECT split_part(line, E'\t', 1)::bigint, split_part(line, E'\t', 2), split_part(line, E'\t', 3),
        COALESCE(string_to_array(NULLIF(split_part(line, E'\t', 4), ''), ' '), '{}'),
        substring(${blob}::bytea FROM split_part(line, E'\t', 5)::int FOR split_part(line, E'\t', 6)::int)
      FROM unnest(string_to_array(${lines.join("\n")}::text, E'\n')) AS line
      ON CONFLICT (sequence, instance_id) DO NOTHING`;
  }

  /** The stored state of each name written, by `<mode>/<name>`, read by one statement. */
  async function storedStates(tx: Tx, keys: readonly WriteKey[]): Promise<Map<string, StoredState>> {
    const rows = await tx<(StoredState & { mode: number; name: string })[]>`
      SELECT mode, name, version, deleted, wrapped_key FROM ${table("records")} WHERE (mode, name) IN (${keysIn(tx, keys)})`;
    return new Map(rows.map((row) => [`${row.mode}/${row.name}`, row]));
  }

  /**
   * The CTEs that write every change of a commit at once: `put` upserts the
   * records (recordsUpsert), `removed` leaves the deletes' tombstones.
   */
  function changedRows(tx: Tx, keyed: readonly (WriteKey & { write: StoreWrite })[], revision: bigint) {
    const puts: RecordRow[] = [];
    const deletes: WriteKey[] = [];
    for (const { write, mode, name } of keyed) {
      if (write.kind === "put") {
        puts.push(putValues(write, mode, name, revision));
      } else {
        deletes.push({ mode, name });
      }
    }
    return tx`put AS (${recordsUpsert(tx, puts, revision)}),
      removed AS (
        UPDATE ${table("records")} SET revision = ${revision}::bigint, deleted = true, seal_only = false, wrapped_key = NULL, record = NULL
        WHERE (mode, name) IN (${keysIn(tx, deletes)}))`;
  }

  /** The (mode, name) rows of `keys`, as a subquery over one text parameter. */
  function keysIn(tx: Tx, keys: readonly WriteKey[]) {
    const lines = keys.map(({ mode, name }) => `${mode}\t${hexName(name)}`).join("\n");
    return tx`SELECT split_part(line, E'\t', 1)::smallint, ${nameOfLine(tx)} FROM unnest(string_to_array(${lines}::text, E'\n')) AS line`;
  }

  /** One statement that upserts records at `revision`: their bytes travel in one blob, each line giving its offsets. */
  function recordsUpsert(tx: Tx, rows: readonly RecordRow[], revision: bigint) {
    const lines: string[] = [];
    const blobs: Buffer[] = [];
    let offset = 1;
    const place = (bytes: Buffer | null) => {
      if (bytes === null) {
        return "0\t-1";
      }
      blobs.push(bytes);
      const at = `${offset}\t${bytes.length}`;
      offset += bytes.length;
      return at;
    };
    for (const row of rows) {
      lines.push(`${row.mode}\t${hexName(row.name)}\t${row.version}\t${row.seal_only}\t${place(row.record)}\t${place(row.wrapped_key)}`);
    }
    const blob = Buffer.concat(blobs);
    return tx`
      INSERT INTO ${table("records")} (mode, name, revision, version, deleted, seal_only, record, wrapped_key)
      SELECT split_part(line, E'\t', 1)::smallint, ${nameOfLine(tx)}, ${revision}::bigint, split_part(line, E'\t', 3)::bigint,
        false, split_part(line, E'\t', 4)::boolean,
        substring(${blob}::bytea FROM split_part(line, E'\t', 5)::int FOR split_part(line, E'\t', 6)::int),
        CASE WHEN split_part(line, E'\t', 8)::int < 0 THEN NULL
          ELSE substring(${blob}::bytea FROM split_part(line, E'\t', 7)::int FOR split_part(line, E'\t', 8)::int) END
      FROM unnest(string_to_array(${lines.join("\n")}::text, E'\n')) AS line
      ON CONFLICT (mode, name) DO UPDATE SET revision = EXCLUDED.revision, version = EXCLUDED.version,
        deleted = false, seal_only = EXCLUDED.seal_only, wrapped_key = EXCLUDED.wrapped_key, record = EXCLUDED.record`;
  }

  return central;
}

/** The stored state a write is checked against. */
interface StoredState {
  version: bigint;
  deleted: boolean;
  wrapped_key: Buffer | null;
}

/** The mode and name a write changes. */
interface WriteKey {
  mode: Mode;
  name: string;
}

function writeKey(write: StoreWrite): WriteKey {
  return write.kind === "put"
    ? { mode: write.record.secret?.mode ?? Mode.UNSPECIFIED, name: write.record.secret?.name ?? "" }
    : { mode: write.mode, name: write.name };
}

/** Refuses (ConflictAbort) a write whose expected version, or expected wrapped key, is not what is stored. */
function expectStored(write: StoreWrite, mode: Mode, name: string, row: StoredState | undefined): void {
  const actualVersion = row === undefined || row.deleted ? 0n : row.version;
  const wrappedKeyMoved =
    write.kind === "put" &&
    write.expectWrappedKey !== undefined &&
    (row?.wrapped_key == null || Buffer.compare(row.wrapped_key, write.expectWrappedKey) !== 0);
  if (actualVersion !== write.expectVersion || wrappedKeyMoved) {
    throw new ConflictAbort({ mode, name, actualVersion });
  }
}

/** A name as a line of keysIn or recordsUpsert carries it, as its second field: hex-encoded UTF-8, so that no name can break a line. */
function hexName(name: string): string {
  return Buffer.from(name, "utf8").toString("hex");
}

/** The name of a line of keysIn or recordsUpsert (hexName). */
function nameOfLine(tx: Tx) {
  return tx`convert_from(decode(split_part(line, E'\t', 2), 'hex'), 'UTF8')`;
}

/** A row of the records table. */
interface RecordRow {
  mode: Mode;
  name: string;
  revision: bigint;
  version: bigint;
  deleted: boolean;
  seal_only: boolean;
  wrapped_key: Buffer | null;
  record: Buffer;
}

/** A put's row of the records table. */
function putValues(write: Extract<StoreWrite, { kind: "put" }>, mode: Mode, name: string, revision: bigint): RecordRow {
  return {
    mode,
    name,
    revision,
    version: write.record.secret?.version ?? 0n,
    deleted: false,
    seal_only: write.expectWrappedKey !== undefined,
    wrapped_key: write.record.payload === undefined ? null : Buffer.from(write.record.payload.wrappedKey),
    record: Buffer.from(toBinary(SecretRecordSchema, write.record)),
  };
}

interface ChangeRow {
  kind: "record" | "meta";
  mode: number;
  name: string;
  revision: bigint;
  version: bigint;
  seal_only: boolean;
  value: Buffer | null;
}

function toChange(row: ChangeRow): CentralChange {
  return row.kind === "meta"
    ? { kind: "meta", revision: row.revision, key: row.name, value: new Uint8Array(row.value ?? Buffer.alloc(0)) }
    : {
        kind: "record",
        revision: row.revision,
        mode: row.mode as Mode,
        name: row.name,
        version: row.version,
        record: row.value === null ? undefined : new Uint8Array(row.value),
        sealOnly: row.seal_only,
      };
}
