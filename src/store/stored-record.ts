import { fromBinary } from "@bufbuild/protobuf";
import { SecretRecordSchema, type SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { decodeRecordMetadata, type WalkedRecord } from "./record-secret.ts";
import { decodeSealKey } from "./record-seal.ts";
import type { ListedSeal, ListedSecret } from "./secret-store.ts";

/** A record's key in the LMDB store: its mode's prefix and its name. */
export type Key = string;

/**
 * Decodes a stored record and checks that it is the record of the key it is
 * stored under (see checkStoredUnder).
 */
export function decodeStored(key: Key, bytes: Uint8Array): SecretRecord {
  return decodedUnder(key, bytes, (stored) => fromBinary(SecretRecordSchema, stored));
}

/** A stored record's metadata, its sealed payload skipped, not decoded; checked as decodeStored checks. */
export function decodeStoredMetadata(key: Key, bytes: Uint8Array): WalkedRecord {
  return decodedUnder(key, bytes, decodeRecordMetadata);
}

/** A stored record's seal (decodeSealKey), named by its key; undecodable bytes are refused as decodeStored refuses them. */
export function decodeStoredSeal(key: Key, bytes: Uint8Array): ListedSeal {
  try {
    return { name: key.slice(key.indexOf("/") + 1), seal: decodeSealKey(bytes) };
  } catch (cause) {
    throw undecodable(key, cause);
  }
}

/** The bytes stored under `key` decoded by `decode`; undecodable bytes, or a secret of another key, are refused. */
function decodedUnder<T extends { readonly secret?: Secret | undefined }>(key: Key, bytes: Uint8Array, decode: (stored: Uint8Array) => T): T {
  let decoded: T;
  try {
    decoded = decode(bytes);
  } catch (cause) {
    throw undecodable(key, cause);
  }
  if (decoded.secret !== undefined) {
    checkStoredUnder(key, decoded.secret);
  }
  return decoded;
}

/** A listed record's metadata (decodeStoredMetadata): a record that lacks its secret or its payload is damaged. */
export function decodeListed(key: Key, bytes: Uint8Array): ListedSecret {
  const { secret, deployedFrom, sealed } = decodeStoredMetadata(key, bytes);
  if (secret === undefined || !sealed) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the record stored as "${key}" is incomplete`);
  }
  return { secret, deployedFrom };
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

export function modePrefix(mode: Mode): string {
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
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + "0";
}

export function recordKey(mode: Mode, name: string): Key {
  return modePrefix(mode) + name;
}

/** The meta key of a record's last-use time. */
export function lastUseKey(key: Key): Key {
  return `last-use/${key}`;
}
