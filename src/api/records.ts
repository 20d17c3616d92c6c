import { fromBinary } from "@bufbuild/protobuf";
import type { SealedPayload, SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, Mode, type Credentials, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { RecordBinding } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** A stored record whose metadata is present. */
export interface LoadedRecord {
  readonly record: SecretRecord;
  readonly secret: Secret;
}

/** "test" or "live", for messages. */
export function modeLabel(mode: Mode): string {
  return mode === Mode.LIVE ? "live" : "test";
}

/** The NOT_FOUND error of a secret. */
export function secretNotFound(mode: Mode, name: string): CredbrokerError {
  return new CredbrokerError("ERR_SECRET_NOT_FOUND", `secret "${name}" not found in ${modeLabel(mode)} mode`, {
    metadata: { mode: modeLabel(mode), name },
  });
}

/** The record of a secret, or NOT_FOUND naming the secret and mode. */
export function requireRecord(store: SecretStore, mode: Mode, name: string): LoadedRecord {
  const record = store.get(mode, name);
  if (record === undefined) {
    throw secretNotFound(mode, name);
  }
  return { record, secret: requireSecret(record, name) };
}

/** The metadata of a record; a record without it is damaged (DATA_LOSS). */
export function requireSecret(record: SecretRecord, name: string): Secret {
  if (record.secret === undefined || record.payload === undefined) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the stored record of secret "${name}" is incomplete`);
  }
  return record.secret;
}

/**
 * The stored credentials of a record, for the call that needs them (Inject,
 * TestSecret, readable fields, a partial update, a kept DPoP key); the plaintext bytes
 * are zeroed once decoded. A payload that opens to something else is DATA_LOSS.
 */
export function openCredentials(sealer: Sealer, binding: RecordBinding, payload: SealedPayload): Credentials {
  const plaintext = sealer.open(binding, payload);
  try {
    return fromBinary(CredentialsSchema, plaintext);
  } catch (cause) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${binding.name}": the opened payload is not credentials`, { cause });
  } finally {
    plaintext.fill(0);
  }
}
