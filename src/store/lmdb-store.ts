import { chmodSync, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from "lmdb";
import { SecretRecordSchema, type SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { AuditEventSchema, type AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import { Mode, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { decodeRecordSecret } from "./record-secret.ts";
import type { CentralChange } from "./central-store.ts";
import type { AuditClass, EncodedAuditEvent, SecretStore, StoreChange, StoreConflict } from "./secret-store.ts";

/** Options of the LMDB store. */
export interface LmdbStoreOptions {
  /** The LMDB data file (a `-lock` file sits beside it); created if missing. */
  path: string;
}

type Key = string;

/**
 * The mode lmdb's native open passes to open(2) for the data file and its
 * `-lock` file (default 0664): the files are born 0600, so there is no moment
 * at which others may read them, whatever the umask or the directory's mode.
 * lmdb reads the option (src/env.cpp) but its types do not declare it.
 */
interface CreationMode {
  permissionsMode: number;
}

/** Where a replica stands: the central store's epoch and the last revision applied. */
export interface ReplicaPosition {
  readonly epoch: string;
  readonly revision: bigint;
}

/** The LMDB store, which in fleet mode is also this sidecar's replica of the central store. */
export interface LmdbStore extends SecretStore {
  /** The replica's position, or undefined when it never applied a change. */
  replicaPosition(): ReplicaPosition | undefined;
  /**
   * Applies central changes, in revision order, in one transaction that also
   * records the new position; with `reset`, every record and meta value is
   * dropped first (a resync). Change listeners hear of each record after.
   */
  applyReplicated(changes: readonly CentralChange[], position: ReplicaPosition, reset: boolean): Promise<void>;
  /** Up to `limit` audit events of every class from sequence `from` on, oldest first, as stored (fleet mode ships them). */
  listEncodedEvents(from: bigint, limit: number): EncodedAuditEvent[];
}

/** Opens (or creates) the LMDB environment that holds secrets. */
export function openLmdbStore(options: LmdbStoreOptions): LmdbStore {
  // no event-turn batching: its internal commit promise is awaited by nobody, so a failed
  // commit (a full disk) became an unhandled rejection that ended the process; writes are
  // still batched, by the commit that lmdb starts on the next turn
  const openOptions: RootDatabaseOptionsWithPath & CreationMode = {
    path: options.path,
    maxDbs: 4,
    eventTurnBatching: false,
    permissionsMode: 0o600,
  };
  const root: RootDatabase = open(openOptions);
  narrowFileModes([options.path, `${options.path}-lock`]);
  // each entry also carries the secret's version in LMDB's entry header, so
  // that isCurrent() answers without decoding the record
  const secrets: Database<Uint8Array, Key> = root.openDB({ name: "secrets", encoding: "binary", useVersions: true });
  const meta: Database<Uint8Array, Key> = root.openDB({ name: "meta", encoding: "binary" });
  // audit events keyed by sequence: microseconds since the epoch, bumped to stay unique, so time-ordered
  const audit: Database<Uint8Array, number> = root.openDB({ name: "audit", encoding: "binary" });
  // the events of the "refused" class, keyed alike: a database of their own, so that counting
  // and pruning one class never touches the other
  const refused: Database<Uint8Array, number> = root.openDB({ name: "audit-refused", encoding: "binary" });
  const eventsOf = (auditClass: AuditClass) => (auditClass === "refused" ? refused : audit);
  let lastSequence = 0;
  for (const db of [audit, refused]) {
    for (const key of db.getKeys({ reverse: true, limit: 1 })) {
      lastSequence = Math.max(lastSequence, key);
    }
  }
  const listeners = new Set<(change: StoreChange) => void>();
  const counts = new Map<Mode, number>();

  function read(key: Key): SecretRecord | undefined {
    const bytes = secrets.get(key);
    return bytes === undefined ? undefined : decodeStored(key, bytes);
  }

  /** Up to `limit` entries of a mode ordered by name, starting after `afterName`, each decoded by `decode`. */
  function listed<T>(
    mode: Mode,
    afterName: string,
    limit: number,
    decode: (key: Key, bytes: Uint8Array) => T,
    match?: (name: string) => boolean,
  ): T[] {
    const found: T[] = [];
    const prefix = modePrefix(mode);
    const start = prefix + afterName;
    const range = { start, end: prefixEnd(prefix) };
    // with a name test, only the keys are walked and a value is read for a name that passes
    const entries =
      match === undefined
        ? secrets.getRange(range)
        : secrets.getKeys(range).filter((key) => match(key.slice(prefix.length))).map((key) => ({ key, value: secrets.get(key) }));
    for (const { key, value } of entries) {
      if ((key === start && afterName !== "") || value === undefined) {
        continue;
      }
      found.push(decode(key, value));
      if (found.length >= limit) {
        break;
      }
    }
    return found;
  }

  function nextEventSequence(micros: number): number {
    lastSequence = Math.max(lastSequence + 1, micros);
    return lastSequence;
  }

  /** Gives the event its sequence and returns its key and bytes. */
  function sequenced(event: AuditEvent): [number, Uint8Array] {
    const micros = event.time === undefined ? 0 : Number(event.time.seconds) * 1e6 + Math.floor(event.time.nanos / 1000);
    const sequence = nextEventSequence(micros);
    event.sequence = BigInt(sequence);
    return [sequence, toBinary(AuditEventSchema, event)];
  }

  return {
    get: (mode, name) => read(recordKey(mode, name)),

    isCurrent: (mode, name, version) => secrets.doesExist(recordKey(mode, name), Number(version)),

    list: (mode, afterName, limit) => listed(mode, afterName, limit, decodeStored),

    listSecrets: (mode, afterName, limit, match) => listed(mode, afterName, limit, decodeStoredSecret, match),

    count(mode) {
      // counting walks every key of the mode: kept until a commit changes the records
      let count = counts.get(mode);
      if (count === undefined) {
        const prefix = modePrefix(mode);
        count = secrets.getKeysCount({ start: prefix, end: prefixEnd(prefix) });
        counts.set(mode, count);
      }
      return count;
    },

    async commit(writes, events = []) {
      let conflict: StoreConflict | undefined;
      const changes: StoreChange[] = [];
      const entries = events.map(sequenced);
      try {
        await root.childTransaction(() => {
          for (const [key, bytes] of entries) {
            audit.putSync(key, bytes);
          }
          for (const write of writes) {
            const mode = write.kind === "put" ? (write.record.secret?.mode ?? Mode.UNSPECIFIED) : write.mode;
            const name = write.kind === "put" ? (write.record.secret?.name ?? "") : write.name;
            const key = recordKey(mode, name);
            const stored = read(key);
            const actualVersion = stored?.secret?.version ?? 0n;
            if (
              actualVersion !== write.expectVersion ||
              (write.kind === "put" &&
                write.expectWrappedKey !== undefined &&
                !sameBytes(stored?.payload?.wrappedKey, write.expectWrappedKey))
            ) {
              conflict = { mode, name, actualVersion };
              throw conflictAbort;
            }
            if (write.kind === "put") {
              const version = write.record.secret?.version ?? 0n;
              secrets.putSync(key, toBinary(SecretRecordSchema, write.record), Number(version));
              changes.push(write.expectWrappedKey === undefined ? { mode, name, version } : { mode, name, version, sealOnly: true });
            } else {
              secrets.removeSync(key);
              meta.removeSync(lastUseKey(key));
              changes.push({ mode, name, version: 0n });
            }
          }
        });
      } catch (cause) {
        if (cause === conflictAbort) {
          return conflict;
        }
        throw await storeWriteError(cause, options.path);
      }
      if (changes.length > 0) {
        counts.clear();
      }
      for (const change of changes) {
        for (const listener of listeners) {
          listener(change);
        }
      }
      return undefined;
    },

    nextEventSequence,

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
        throw await storeWriteError(cause, options.path);
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
        throw await storeWriteError(cause, options.path);
      }
    },

    getLastUse(mode, name) {
      const bytes = meta.get(lastUseKey(recordKey(mode, name)));
      return bytes?.length === 8 ? Number(Buffer.from(bytes).readBigUInt64BE()) : undefined;
    },

    async putLastUses(uses) {
      try {
        await root.childTransaction(() => {
          for (const { mode, name, time } of uses) {
            const key = recordKey(mode, name);
            // a secret deleted since its Inject must not get a time its next incarnation would inherit
            if (secrets.doesExist(key)) {
              const bytes = Buffer.alloc(8);
              bytes.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(time))));
              meta.putSync(lastUseKey(key), bytes);
            }
          }
        });
      } catch (cause) {
        throw await storeWriteError(cause, options.path);
      }
    },

    getMeta: (key) => meta.get(key),

    async putMetaIfAbsent(key, value) {
      try {
        return await root.childTransaction(() => {
          if (meta.get(key) !== undefined) {
            return false;
          }
          meta.putSync(key, value);
          return true;
        });
      } catch (cause) {
        throw await storeWriteError(cause, options.path);
      }
    },

    async replaceMeta(key, expected, value) {
      try {
        return await root.childTransaction(() => {
          if (!sameBytes(meta.get(key), expected)) {
            return false;
          }
          meta.putSync(key, value);
          return true;
        });
      } catch (cause) {
        throw await storeWriteError(cause, options.path);
      }
    },

    replicaPosition() {
      const bytes = meta.get(replicaPositionKey);
      if (bytes === undefined) {
        return undefined;
      }
      const { epoch, revision } = JSON.parse(Buffer.from(bytes).toString("utf8")) as { epoch: string; revision: string };
      return { epoch, revision: BigInt(revision) };
    },

    async applyReplicated(changes, position, reset) {
      const applied: StoreChange[] = [];
      try {
        await root.childTransaction(() => {
          if (reset) {
            for (const key of secrets.getKeys()) {
              secrets.removeSync(key);
            }
            for (const key of meta.getKeys()) {
              meta.removeSync(key);
            }
          }
          for (const change of changes) {
            if (change.kind === "meta") {
              meta.putSync(change.key, change.value);
              continue;
            }
            const { mode, name, version } = change;
            const key = recordKey(mode, name);
            if (change.record === undefined) {
              if (secrets.doesExist(key)) {
                secrets.removeSync(key);
                meta.removeSync(lastUseKey(key));
              }
              applied.push({ mode, name, version: 0n });
            } else {
              secrets.putSync(key, change.record, Number(version));
              applied.push(change.sealOnly ? { mode, name, version, sealOnly: true } : { mode, name, version });
            }
          }
          meta.putSync(replicaPositionKey, Buffer.from(JSON.stringify({ epoch: position.epoch, revision: String(position.revision) })));
        });
      } catch (cause) {
        throw await storeWriteError(cause, options.path);
      }
      counts.clear();
      for (const change of applied) {
        for (const listener of listeners) {
          listener(change);
        }
      }
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close() {
      // after a commit failed for a full disk, lmdb's close never settles:
      // bounded, so that a broker on a full disk still shuts down
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([root.close(), new Promise((resolve) => (timer = setTimeout(resolve, closeTimeoutMs)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Files an earlier build created 0644 (before permissionsMode) are narrowed
 * to 0600: permissionsMode applies only to files open(2) creates.
 */
function narrowFileModes(paths: readonly string[]): void {
  for (const path of paths) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o077) !== 0) {
      chmodSync(path, mode & 0o700);
    }
  }
}

/**
 * Decodes a stored record and checks that it is the record of the key it is
 * stored under (see checkStoredUnder).
 */
function decodeStored(key: Key, bytes: Uint8Array): SecretRecord {
  let record: SecretRecord;
  try {
    record = fromBinary(SecretRecordSchema, bytes);
  } catch (cause) {
    throw undecodable(key, cause);
  }
  if (record.secret !== undefined) {
    checkStoredUnder(key, record.secret);
  }
  return record;
}

/** The metadata of a stored record, its sealed payload skipped, not decoded; checked as decodeStored checks. */
function decodeStoredSecret(key: Key, bytes: Uint8Array): Secret {
  let secret: Secret | undefined;
  try {
    secret = decodeRecordSecret(bytes);
  } catch (cause) {
    throw undecodable(key, cause);
  }
  if (secret === undefined) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the record stored as "${key}" is incomplete`);
  }
  checkStoredUnder(key, secret);
  return secret;
}

/**
 * The seal binds a payload to the mode and name in the record's own
 * metadata, so a record copied whole under another key (a live record under
 * a test key, or under another name) would open; this refuses it.
 */
function checkStoredUnder(key: Key, secret: Secret): void {
  const known = secret.mode === Mode.TEST || secret.mode === Mode.LIVE;
  if (!known || recordKey(secret.mode, secret.name) !== key) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the record stored as "${key}" belongs to another secret: it was moved`);
  }
}

/** Bytes that are not a SecretRecord are a damaged store (DATA_LOSS), not a crash; the cause names no byte of them. */
function undecodable(key: Key, cause: unknown): CredbrokerError {
  return new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the record stored as "${key}" cannot be decoded`, { cause });
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

/** How long close() waits for LMDB to finish pending commits. */
const closeTimeoutMs = 5_000;

/** Thrown inside a child transaction to abort it on a version conflict. */
const conflictAbort = new Error("version conflict");

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}

function modePrefix(mode: Mode): string {
  switch (mode) {
    case Mode.TEST:
      return "test/";
    case Mode.LIVE:
      return "live/";
    default:
      throw invalidField("mode", "must be MODE_TEST or MODE_LIVE");
  }
}

/** The first key past every key that starts with prefix ('/' + 1 is '0'). */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + "0";
}

function recordKey(mode: Mode, name: string): Key {
  return modePrefix(mode) + name;
}

/** The meta key of a replica's position. */
const replicaPositionKey = "replica/position";

/** The meta key of a record's last-use time. */
function lastUseKey(key: Key): Key {
  return `last-use/${key}`;
}

/** A full map or disk becomes ERR_STORE_FULL; anything else stays as it is (an internal error). */
async function storeWriteError(cause: unknown, path: string): Promise<unknown> {
  // lmdb rejects a failed commit with "Commit failed" and its reason in a promise, which
  // would also be an unhandled rejection (a crash) if nobody awaited it
  const commitError = (cause as { commitError?: unknown } | null)?.commitError;
  const reason =
    commitError instanceof Promise
      ? await Promise.race([commitError.then(() => cause, (error: unknown) => error), delay(2000, cause, { ref: false })])
      : cause;
  const code = (reason as { code?: unknown } | null)?.code;
  const full =
    reason instanceof Error &&
    (/MDB_MAP_FULL|ENOSPC|No space left on device/.test(reason.message) || code === 28 || (code === 5 && nearlyFull(path)));
  return full
    ? new CredbrokerError("ERR_STORE_FULL", "the store is full; writes are refused, reads keep serving", { cause: reason })
    : cause;
}

/**
 * Whether the file system of `path` has less than a megabyte left: LMDB
 * reports a page write that the disk could only take in part as EIO (a
 * short write), not ENOSPC, so a nearly full disk tells the two apart.
 */
function nearlyFull(path: string): boolean {
  const stats = statfsSync(dirname(path));
  return stats.bavail * stats.bsize < 1024 * 1024;
}
