import { create } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/ciphers/utils.js";
import { SealedPayloadSchema, type SealedPayload } from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { aeadOpen, aeadSeal } from "./aead.ts";
import type { RecordBinding } from "./record-binding.ts";

/**
 * The envelope formats; every one is XChaCha20-Poly1305 for both layers.
 *
 * Format 1 bound the key id into one AAD shared by both layers, so moving a
 * data key to another keyring key meant re-encrypting the payload. Format 2
 * split the AAD: the payload is bound to the record (format, mode, name,
 * type, version) and its data key alone; the key id is bound only in the
 * wrap layer, so a rewrap replaces `key_id` and `wrapped_key` and leaves the
 * payload ciphertext untouched. Format 3 is format 2 binding the record's
 * whole metadata: its generation, description and create and update times
 * too, so that a payload moved to a record of the same name and version but
 * another generation (a secret deleted and created again) fails to open.
 *
 * New seals write format 3. Formats 1 and 2 still open, each with the AADs
 * it was sealed with, binding only what it bound. A rewrap keeps a format 2
 * or 3 payload in its format; it upgrades a format 1 one once, by a full
 * reseal, to format 3. Any write of a record reseals it as format 3.
 */
type Format = 1 | 2 | 3;
const sealFormat: Format = 3;

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
  /** Seals a payload for one record's metadata under a fresh data key. */
  seal(binding: RecordBinding, plaintext: Uint8Array): SealedPayload;
  /** Opens a payload sealed for exactly this binding; ERR_SEAL_OPEN_FAILED otherwise. The caller zeroes the result. */
  open(binding: RecordBinding, payload: SealedPayload): Uint8Array;
  /** Moves a payload to another binding (e.g. a deploy to live) under a fresh data key. */
  reseal(from: RecordBinding, to: RecordBinding, payload: SealedPayload): SealedPayload;
  /**
   * The payload with its data key wrapped by the active key instead (the
   * payload ciphertext and format unchanged; a format 1 payload is resealed
   * as format 3), or undefined when the active key wraps it already.
   * ERR_SEAL_OPEN_FAILED when the data key does not open.
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
        format: sealFormat,
        keyId: active.id,
        wrappedKey: aeadSeal(active.key, dataKey, wrapAad(sealFormat, binding, active.id)),
        ciphertext: aeadSeal(dataKey, plaintext, payloadAad(sealFormat, binding, active.id)),
      });
    } finally {
      dataKey.fill(0);
    }
  }

  /** The data key of a payload; the caller zeroes it. */
  function unwrap(binding: RecordBinding, payload: SealedPayload, format: Format): Uint8Array {
    const wrappingKey = keyring.keyById(payload.keyId);
    if (wrappingKey === undefined) {
      throw openFailed(binding, `keyring key ${payload.keyId} is missing`);
    }
    const dataKey = aeadOpen(wrappingKey, payload.wrappedKey, wrapAad(format, binding, payload.keyId));
    if (dataKey === undefined) {
      throw openFailed(binding, "the data key fails authentication");
    }
    return dataKey;
  }

  function open(binding: RecordBinding, payload: SealedPayload): Uint8Array {
    const format = formatOf(binding, payload);
    const dataKey = unwrap(binding, payload, format);
    const plaintext = aeadOpen(dataKey, payload.ciphertext, payloadAad(format, binding, payload.keyId));
    dataKey.fill(0);
    if (plaintext === undefined) {
      throw openFailed(binding, "the payload fails authentication");
    }
    return plaintext;
  }

  function rewrap(binding: RecordBinding, payload: SealedPayload): SealedPayload | undefined {
    const format = formatOf(binding, payload);
    if (format === 1) {
      // format 1's payload AAD names the key id: only a full reseal can move it
      return reseal(binding, binding, payload);
    }
    const active = keyring.active();
    if (payload.keyId === active.id) {
      return undefined;
    }
    const dataKey = unwrap(binding, payload, format);
    try {
      return create(SealedPayloadSchema, {
        format,
        keyId: active.id,
        wrappedKey: aeadSeal(active.key, dataKey, wrapAad(format, binding, active.id)),
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

function formatOf(binding: RecordBinding, payload: SealedPayload): Format {
  if (payload.format === 1 || payload.format === 2 || payload.format === 3) {
    return payload.format;
  }
  throw openFailed(binding, `unknown envelope format ${payload.format}`);
}

function openFailed(binding: RecordBinding, why: string): CredbrokerError {
  return new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${binding.name}" cannot be opened: ${why}`);
}

const encoder = new TextEncoder();

/** The data key's AAD: the wrapping key's id and what the format binds of the record. */
function wrapAad(format: Format, binding: RecordBinding, keyId: number): Uint8Array {
  return format === 1 ? formatOneAad(binding, keyId) : encoder.encode(`credbroker data key\0${format}\0${keyId}\0${boundFields(format, binding)}`);
}

/** The payload's AAD: since format 2 without the key id, so that a rewrap leaves the payload as it is. */
function payloadAad(format: Format, binding: RecordBinding, keyId: number): Uint8Array {
  return format === 1 ? formatOneAad(binding, keyId) : encoder.encode(`credbroker payload\0${format}\0${boundFields(format, binding)}`);
}

/** Format 1's one AAD of both layers: format, key id and the record's identity, NUL-separated (names cannot hold NUL). */
function formatOneAad(binding: RecordBinding, keyId: number): Uint8Array {
  return encoder.encode(
    `credbroker record\0${1}\0${keyId}\0${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`,
  );
}

/**
 * What formats 2 and 3 bind of a record, NUL-separated. Names cannot hold a
 * NUL (checkName) and numbers do not; the description, the one other text,
 * comes last (and checkDescription refuses control characters anyway), so
 * splitting at the first NULs gives the binding back: no two bindings give
 * one AAD.
 */
function boundFields(format: 2 | 3, b: RecordBinding): string {
  const identity = `${b.mode}\0${b.name}\0${b.type}\0${b.version}`;
  if (format === 2) {
    return identity;
  }
  const times = `${b.createTime.seconds}\0${b.createTime.nanos}\0${b.updateTime.seconds}\0${b.updateTime.nanos}`;
  return `${identity}\0${b.generation}\0${times}\0${b.description}`;
}
