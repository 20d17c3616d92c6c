import { chmodSync, statSync } from "node:fs";
import { toBinary } from "@bufbuild/protobuf";
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from "lmdb";
import { SecretRecordSchema, type SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import type { AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { decodeListed, decodeStored, decodeStoredMetadata, decodeStoredSeal, lastUseKey, modePrefix, prefixEnd, recordKey, type Key } from "./stored-record.ts";
import type { CentralChange } from "./central-store.ts";
import { openLmdbAudit } from "./lmdb-audit.ts";
import { storeWriteError } from "./lmdb-write-error.ts";
import type { EncodedAuditEvent, RecordMetadata, SecretStore, StoreChange, StoreConflict } from "./secret-store.ts";

/** Options of the LMDB store. */
export interface LmdbStoreOptions {
  /** The LMDB data file (a `-lock` file sits beside it); created if missing. */
  path: string;
}

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
  /**
   * Gives a change's audit events their sequences (as nextEventSequence,
   * from each event's time) and encodes them, of the "main" class: what a
   * commit stores with its change, here or (fleet mode) centrally.
   */
  sequenceEvents(events: readonly AuditEvent[]): EncodedAuditEvent[];
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
    mapSize,
  };
  const root: RootDatabase = open(openOptions);
  narrowFileModes([options.path, `${options.path}-lock`]);
  // each entry also carries the secret's version in LMDB's entry header, so
  // that isCurrent() answers without decoding the record
  const secrets: Database<Uint8Array, Key> = root.openDB({ name: "secrets", encoding: "binary", useVersions: true });
  const meta: Database<Uint8Array, Key> = root.openDB({ name: "meta", encoding: "binary" });
  const audit = openLmdbAudit(root, options.path);
  const listeners = new Set<(change: StoreChange) => void>();
  const counts = new Map<Mode, { count: number; entries: number }>();

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

  /**
   * The entries of names under a prefix of a database, each decoded
   * (undefined where there is none). Names in order are read by one walk
   * from the first name's key instead of a lookup per name (a page's live
   * copies and last-use times: a lookup costs about three steps of a walk).
   * The walk reads at most twice as many entries as names, so a range
   * crowded with other entries costs little; the names past where it
   * stopped are looked up one by one.
   */
  function readByName<T>(db: Database<Uint8Array, Key>, prefix: string, names: readonly string[], decode: (key: Key, bytes: Uint8Array) => T): (T | undefined)[] {
    const found = new Map<string, T>();
    const first = names[0];
    const last = names[names.length - 1];
    // the last name the walk covered; "" when it did not walk
    let through = "";
    if (first !== undefined && last !== undefined && names.length >= 2 && names.every((name, i) => i === 0 || names[i - 1]! < name)) {
      const wanted = new Set(names);
      const limit = 2 * names.length;
      through = last;
      let seen = 0;
      for (const { key, value } of db.getRange({ start: prefix + first, end: prefixEnd(prefix), limit })) {
        const name = key.slice(prefix.length);
        if (name > last) {
          break;
        }
        if (wanted.has(name)) {
          found.set(name, decode(key, value));
        }
        if (++seen === limit) {
          through = name;
        }
      }
    }
    return names.map((name) => {
      if (name <= through) {
        return found.get(name);
      }
      const bytes = db.get(prefix + name);
      return bytes === undefined ? undefined : decode(prefix + name, bytes);
    });
  }

  return {
    get: (mode, name) => read(recordKey(mode, name)),

    getMetadata: (mode, names) => readByName<RecordMetadata>(secrets, modePrefix(mode), names, decodeStoredMetadata),

    isCurrent: (mode, name, version) => secrets.doesExist(recordKey(mode, name), Number(version)),

    list: (mode, afterName, limit) => listed(mode, afterName, limit, decodeStored),

    listSecrets: (mode, afterName, limit, match) => listed(mode, afterName, limit, decodeListed, match),
    listSeals: (mode, afterName, limit) => listed(mode, afterName, limit, decodeStoredSeal),

    count(mode) {
      // counting walks every key of the mode, so a count is kept until this process's commits
      // change the records, or the number of records of every mode changes: another broker
      // sharing the data dir created or deleted some (LMDB's entry count, a few µs to read)
      const entries = (secrets.getStats() as { entryCount: number }).entryCount;
      const kept = counts.get(mode);
      if (kept !== undefined && kept.entries === entries) {
        return kept.count;
      }
      const prefix = modePrefix(mode);
      const count = secrets.getKeysCount({ start: prefix, end: prefixEnd(prefix) });
      counts.set(mode, { count, entries });
      return count;
    },

    async commit(writes, events = []) {
      let conflict: StoreConflict | undefined;
      const changes: StoreChange[] = [];
      const entries = audit.methods.sequenceEvents(events);
      try {
        await root.childTransaction(() => {
          audit.putSync(entries);
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


    ...audit.methods,

    getLastUses: (mode, names) => readByName(meta, lastUseKey(modePrefix(mode)), names, (_, bytes) => lastUseTime(bytes)),

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
 * The address space mapped for the data file from the start (4 GiB of
 * address space only: the file grows as data is written, the map is read-only
 * and preallocates nothing). lmdb-js starts at 128 KiB and remaps at twice the
 * used size as the file grows, leaving each outgrown map mapped until close
 * (for readers still on it; mdb_env_set_mapsize in its dependencies/lmdb), so
 * a page read through several maps counted in RSS once per map. Past this
 * size lmdb-js still grows the map.
 */
const mapSize = 4 * 1024 ** 3;

/** How long close() waits for LMDB to finish pending commits. */
const closeTimeoutMs = 5_000;

/** Thrown inside a child transaction to abort it on a version conflict. */
const conflictAbort = new Error("version conflict");

/** A stored last-use time (8 bytes, big-endian milliseconds); undefined for anything else. */
function lastUseTime(bytes: Uint8Array): number | undefined {
  return bytes.length === 8 ? Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64BE()) : undefined;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}


/** The meta key of a replica's position. */
const replicaPositionKey = "replica/position";


