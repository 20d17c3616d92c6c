import { create } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/ciphers/utils.js";
import { SealedPayloadSchema, type SealedPayload } from "../gen/credbroker/storage/v1/record_pb.ts";
import type { Mode, SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { aeadOpen, aeadSeal } from "./aead.ts";
import type { Keyring } from "./keyring.ts";

/** The envelope format this build writes: XChaCha20-Poly1305 for both layers. */
const payloadFormat = 1;

/** What a sealed payload is bound to; moving it to another record breaks it. */
export interface RecordBinding {
  readonly mode: Mode;
  readonly name: string;
  readonly type: SecretType;
  readonly version: bigint;
}

/** Envelope encryption of record payloads under a keyring. */
export interface Sealer {
  /** Seals a payload for one record version under a fresh data key. */
  seal(binding: RecordBinding, plaintext: Uint8Array): SealedPayload;
  /** Opens a payload sealed for exactly this binding; ERR_SEAL_OPEN_FAILED otherwise. The caller zeroes the result. */
  open(binding: RecordBinding, payload: SealedPayload): Uint8Array;
  /** Moves a payload to another binding (e.g. a deploy to live) under a fresh data key. */
  reseal(from: RecordBinding, to: RecordBinding, payload: SealedPayload): SealedPayload;
}

/** A Sealer over a keyring. */
export function createSealer(keyring: Keyring): Sealer {
  function seal(binding: RecordBinding, plaintext: Uint8Array): SealedPayload {
    const keyId = keyring.activeKeyId;
    const aad = recordAad(binding, payloadFormat, keyId);
    const dataKey = randomBytes(32);
    try {
      return create(SealedPayloadSchema, {
        format: payloadFormat,
        keyId,
        wrappedKey: aeadSeal(keyring.activeKey, dataKey, aad),
        ciphertext: aeadSeal(dataKey, plaintext, aad),
      });
    } finally {
      dataKey.fill(0);
    }
  }

  function open(binding: RecordBinding, payload: SealedPayload): Uint8Array {
    const failed = (why: string) =>
      new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${binding.name}" cannot be opened: ${why}`);
    if (payload.format !== payloadFormat) {
      throw failed(`unknown envelope format ${payload.format}`);
    }
    const wrappingKey = keyring.keyById(payload.keyId);
    if (wrappingKey === undefined) {
      throw failed(`keyring key ${payload.keyId} is missing`);
    }
    const aad = recordAad(binding, payload.format, payload.keyId);
    const dataKey = aeadOpen(wrappingKey, payload.wrappedKey, aad);
    if (dataKey === undefined) {
      throw failed("the data key fails authentication");
    }
    const plaintext = aeadOpen(dataKey, payload.ciphertext, aad);
    dataKey.fill(0);
    if (plaintext === undefined) {
      throw failed("the payload fails authentication");
    }
    return plaintext;
  }

  return {
    seal,
    open,
    reseal(from, to, payload) {
      const plaintext = open(from, payload);
      try {
        return seal(to, plaintext);
      } finally {
        plaintext.fill(0);
      }
    },
  };
}

const encoder = new TextEncoder();

/** The associated data: format, key id and the record's identity, NUL-separated (names cannot hold NUL). */
function recordAad(binding: RecordBinding, format: number, keyId: number): Uint8Array {
  return encoder.encode(
    `credbroker record\0${format}\0${keyId}\0${binding.mode}\0${binding.name}\0${binding.type}\0${binding.version}`,
  );
}
