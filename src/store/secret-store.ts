import type { DeployOrigin, SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import type { AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { Mode, Secret } from "../gen/credbroker/v1/secret_pb.ts";
import type { SealKey } from "./record-seal.ts";

/**
 * The store seam: records in, records out. Records hold metadata in clear
 * and credentials sealed; a store never sees plaintext. LMDB is the embedded
 * implementation; a shared database can be another behind the same seam.
 */
export interface SecretStore {
  /** The record of a secret, or undefined. */
  get(mode: Mode, name: string): SecretRecord | undefined;
  /**
   * The metadata of the records of these names, as `get` would give each
   * (undefined where there is none), without decoding their sealed
   * payloads: deploy states read live copies this way, a listed page's at
   * once. Names in order are read by one walk over their range.
   */
  getMetadata(mode: Mode, names: readonly string[]): (RecordMetadata | undefined)[];
  /** Whether the secret is stored at exactly this version: a check that decodes nothing. */
  isCurrent(mode: Mode, name: string, version: bigint): boolean;
  /** Up to `limit` records of a mode ordered by name, starting after `afterName` ("" for the start). */
  list(mode: Mode, afterName: string, limit: number): SecretRecord[];
  /**
   * The metadata of up to `limit` secrets of a mode, as `list` would give
   * them, without decoding their sealed payloads; a record that lacks its
   * secret or its payload is damaged (ERR_SEAL_OPEN_FAILED). With `match`,
   * only the secrets whose name it accepts, tested before anything is
   * decoded.
   */
  listSecrets(mode: Mode, afterName: string, limit: number, match?: (name: string) => boolean): ListedSecret[];
  /**
   * Which key seals each of up to `limit` records of a mode, ordered by name
   * (as `list` would page them), without decoding the records: the rewrap
   * reads in full only the records it moves. Undecodable bytes are refused
   * as `list` refuses them.
   */
  listSeals(mode: Mode, afterName: string, limit: number): ListedSeal[];
  /** How many secrets a mode holds. */
  count(mode: Mode): number;
  /**
   * Applies writes atomically: all or none. Each write states the version it
   * expects to replace (0n: the secret must not exist); when any expectation
   * fails nothing is written and the returned conflict names it. The audit
   * events are appended in the same transaction: written with the writes or
   * not at all.
   */
  commit(writes: readonly StoreWrite[], events?: readonly AuditEvent[]): Promise<StoreConflict | undefined>;
  /**
   * Claims the next audit sequence, at least `micros` (microseconds since the
   * epoch) and above every sequence given out or stored so far, so sequences
   * stay unique across classes, writers and restarts.
   */
  nextEventSequence(micros: number): number;
  /**
   * Writes already sequenced and encoded audit events in one transaction;
   * resolves once they are on disk. An event is keyed by its sequence, so a
   * batch written twice (a retry, a replay after a crash) is stored once.
   */
  putEvents(events: readonly EncodedAuditEvent[]): Promise<void>;
  /**
   * Up to `limit` audit events of every class from sequence `from` on,
   * oldest first (sequences are unique across classes); only those naming
   * `name` when set.
   */
  listEvents(from: bigint, limit: number, name?: string): AuditEvent[];
  /** How many audit events of a class (default "main") are stored. */
  eventCount(auditClass?: AuditClass): number;
  /**
   * Removes up to `limit` of the oldest audit events of a class (default
   * "main") that are older than `before` (a sequence, i.e. microseconds
   * since the epoch) or beyond the class's newest `keep`, in one
   * transaction; resolves to how many it removed. No class's events count
   * against another's `keep`.
   */
  pruneEvents(before: bigint, keep: number, limit: number, auditClass?: AuditClass): Promise<number>;
  /**
   * When each of these secrets last served an Inject (milliseconds since
   * the epoch), as putLastUses last wrote it; undefined where never. Names
   * in order are read by one walk, as getMetadata reads them.
   */
  getLastUses(mode: Mode, names: readonly string[]): (number | undefined)[];
  /**
   * Writes last-use times in one transaction (a secret deleted meanwhile
   * gets none). Kept apart from the records: no version, no change feed,
   * no audit event, and a delete removes the secret's time.
   */
  putLastUses(uses: readonly LastUse[]): Promise<void>;
  /** A value from the store's metadata (e.g. the sealed keyring). */
  getMeta(key: string): Uint8Array | undefined;
  /** Writes a metadata value only if the key is absent; false if it was present. */
  putMetaIfAbsent(key: string, value: Uint8Array): Promise<boolean>;
  /** Replaces a metadata value in one transaction only if it still holds `expected`; false otherwise. */
  replaceMeta(key: string, expected: Uint8Array, value: Uint8Array): Promise<boolean>;
  /** Calls the listener after every committed change, until the returned function is called. */
  onChange(listener: (change: StoreChange) => void): () => void;
  /** Closes the store; pending writes are committed first. */
  close(): Promise<void>;
}

/** A record but for its sealed payload: the secret and, for a live record a deploy wrote, its origin. */
export interface RecordMetadata {
  readonly secret?: Secret | undefined;
  readonly deployedFrom?: DeployOrigin | undefined;
}

/** A listed record's metadata: a listed record always has its secret. */
export interface ListedSecret extends RecordMetadata {
  readonly secret: Secret;
}

/** A listed record's seal: its name (from its key) and, when it holds a payload, the payload's envelope format and key id. */
export interface ListedSeal {
  readonly name: string;
  readonly seal: SealKey | undefined;
}

/**
 * The retention class of an audit event: "refused" for calls refused before
 * the caller presented any token the broker knows, which anyone who reaches
 * a listener can make; "main" for everything else. Each class is kept and
 * pruned on its own, so refusals never evict the record of admitted callers.
 */
export type AuditClass = "main" | "refused";

/** An audit event ready to store: its sequence, its class and its protobuf bytes (an AuditEvent naming that sequence). */
export interface EncodedAuditEvent {
  readonly sequence: number;
  readonly auditClass: AuditClass;
  readonly bytes: Uint8Array;
}

/** When a secret last served an Inject. */
export interface LastUse {
  readonly mode: Mode;
  readonly name: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
}

/** One write of a commit. */
export type StoreWrite =
  | {
      readonly kind: "put";
      /** The record to store; its secret's mode and name are the key. */
      readonly record: SecretRecord;
      /** The version being replaced; 0n when the secret must not exist yet. */
      readonly expectVersion: bigint;
      /** When set, the stored payload's wrapped data key must be exactly this (a rewrap of what was read). */
      readonly expectWrappedKey?: Uint8Array | undefined;
    }
  | {
      readonly kind: "delete";
      readonly mode: Mode;
      readonly name: string;
      /** The version being deleted. */
      readonly expectVersion: bigint;
    };

/** A write whose expected version did not match what was stored. */
export interface StoreConflict {
  readonly mode: Mode;
  readonly name: string;
  /** The stored version; 0n when the secret is absent. */
  readonly actualVersion: bigint;
}

/** A committed change of one secret. */
export interface StoreChange {
  readonly mode: Mode;
  readonly name: string;
  /** The version now stored; 0n after a delete. */
  readonly version: bigint;
  /** True when only the seal changed (a put with expectWrappedKey: a rewrap); contents and version are as before. */
  readonly sealOnly?: boolean;
}
