import { create } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/ciphers/utils.js";
import { SealedPayloadSchema, type SealedPayload } from "../gen/credbroker/storage/v1/record_pb.ts";
import type { Mode, SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { aeadOpen, aeadSeal } from "./aead.ts";

/**
 * The envelope format this build writes: XChaCha20-Poly1305 for both layers.
 *
 * Format 1 bound the key id into one AAD shared by both layers, so moving a
 * data key to another keyring key meant re-encrypting the payload. Format 2
 * splits the AAD: the payload is bound to the record (format, mode, name,
 * type, version) and its data key alone; the key id is bound only in the
 * wrap layer. A rewrap then replaces `key_id` and `wrapped_key` and leaves
 * the payload ciphertext untouched. Format 1 records still open; the rewrap
 * upgrades each of them once, by a full reseal, to format 2.
 */
const payloadFormat = 2;

/** What a sealed payload is bound to; moving it to another record breaks it. */
export interface RecordBinding {
  readonly mode: Mode;
  readonly name: string;
  readonly type: SecretType;
  readonly version: bigint;
}

/**
 * The keys a sealer wraps data keys with: what it needs of a keyring
 * (src/keys), so that sealing knows nothing of where keyrings are kept.
 */
export interface WrappingKeys {
  /** The key that wraps new data keys, with its id, read together. */
  active(): { readonly id: number; readonly key: Uint8Array };
  /** The key of that id, if there is one. */
  keyById(id: number): Uint8Array | undefined;
}

/** Envelope encryption of record payloads under a keyring. */
export interface Sealer {
  /** Seals a payload for one record version under a fresh data key. */
  seal(binding: RecordBinding, plaintext: Uint8Array): SealedPayload;
  /** Opens a payload sealed for exactly this binding; ERR_SEAL_OPEN_FAILED otherwise. The caller zeroes the result. */
  open(binding: RecordBinding, payload: SealedPayload): Uint8Array;
  /** Moves a payload to another binding (e.g. a deploy to live) under a fresh data key. */
  reseal(from: RecordBinding, to: RecordBinding, payload: SealedPayload): SealedPayload;
  /**
   * The payload with its data key wrapped by the active key instead (the
   * payload ciphertext unchanged), or undefined when the active key wraps it
   * already. ERR_SEAL_OPEN_FAILED when the data key does not open.
   */
  rewrap(binding: RecordBinding, payload: SealedPayload): SealedPayload | undefined;
}

/** A Sealer over a keyring. */
export function createSealer(keyring: WrappingKeys): Sealer {
  function seal(binding: RecordBinding, plaintext: Uint8Array): SealedPayload {
    const active = keyring.active();
    const dataKey = randomBytes(32);
    try {
      return create(SealedPayloadSchema, {
        format: payloadFormat,
        keyId: active.id,
        wrappedKey: aeadSeal(active.key, dataKey, wrapAad(binding, active.id)),
        ciphertext: aeadSeal(dataKey, plaintext, payloadAad(binding)),
      });
    } finally {
      dataKey.fill(0);
    }
  }

  /** The data key of a payload; the caller zeroes it. */
  function unwrap(binding: RecordBinding, payload: SealedPayload): Uint8Array {
    if (payload.format !== 1 && payload.format !== payloadFormat) {
      throw openFailed(binding, `unknown envelope format ${payload.format}`);
    }
    const wrappingKey = keyring.keyById(payload.keyId);
    if (wrappingKey === undefined) {
      throw openFailed(binding, `keyring key ${payload.keyId} is missing`);
    }
    const aad = payload.format === 1 ? formatOneAad(binding, payload.keyId) : wrapAad(binding, payload.keyId);
    const dataKey = aeadOpen(wrappingKey, payload.wrappedKey, aad);
    if (dataKey === undefined) {
      throw openFailed(binding, "the data key fails authentication");
    }
    return dataKey;
  }

  function open(binding: RecordBinding, payload: SealedPayload): Uint8Array {
    const dataKey = unwrap(binding, payload);
    const aad = payload.format === 1 ? formatOneAad(binding, payload.keyId) : payloadAad(binding);
    const plaintext = aeadOpen(dataKey, payload.ciphertext, aad);
    dataKey.fill(0);
    if (plaintext === undefined) {
      throw openFailed(binding, "the payload fails authentication");
    }
    return plaintext;
  }

  function rewrap(binding: RecordBinding, payload: SealedPayload): SealedPayload | undefined {
    const active = keyring.active();
    if (payload.keyId === active.id && payload.format === payloadFormat) {
      return undefined;
    }
    if (payload.format === 1) {
      // format 1's payload AAD names the key id: only a full reseal can move it
      return reseal(binding, binding, payload);
    }
    const dataKey = unwrap(binding, payload);
    try {
      return create(SealedPayloadSchema, {
        format: payloadFormat,
        keyId: active.id,
        wrappedKey: aeadSeal(active.key, dataKey, wrapAad(binding, active.id)),
        ciphertext: payload.ciphertext,
      });
    } finally {
      dataKey.fill(0);
    }
  }

  function reseal(from: RecordBinding, to: RecordBinding, payload: SealedPayload): SealedPayload {
    const plaintext = open(from, payload);
    try {
      return seal(to, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  return { seal, open, reseal, rewrap };
}

function openFailed(binding: RecordBinding, why: string): CredbrokerError {
  return new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${binding.name}" cannot be opened: ${why}`);
}

const encoder = new TextEncoder();

/** Format 1's one AAD of both layers: format, key id and the record's identity, NUL-separated (names cannot hold NUL). */
function formatOneAad(binding: RecordBinding, keyId: number): Uint8Array {
  return encoder.encode(
    `credbroker record\0${1}\0${keyId}\0${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`,
  );
}

/** Format 2's payload AAD: the record's identity, no key id, so that a rewrap leaves the payload as it is. */
function payloadAad(binding: RecordBinding): Uint8Array {
  return encoder.encode(`credbroker payload\0${payloadFormat}\0${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`);
}

/** Format 2's wrap AAD: the wrapping key's id and the record's identity. */
function wrapAad(binding: RecordBinding, keyId: number): Uint8Array {
  return encoder.encode(
    `credbroker data key\0${payloadFormat}\0${keyId}\0${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`,
  );
}
