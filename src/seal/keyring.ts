import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/ciphers/utils.js";
import {
  KeyringSchema,
  SealedKeyringSchema,
  type Keyring as KeyringMessage,
} from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { aeadOpen, aeadSeal } from "./aead.ts";

/** The keyring format this build writes. */
const keyringFormat = 1;
const keyringAad = new TextEncoder().encode("credbroker keyring v1");

/** The keys that wrap data keys: one active key seals, every key opens. */
export interface Keyring {
  /** The id of the key that wraps new data keys. */
  readonly activeKeyId: number;
  /** The active key. */
  readonly activeKey: Uint8Array;
  /** The key of that id, if the keyring has it. */
  keyById(id: number): Uint8Array | undefined;
}

/** A new keyring with one random key, and its sealed form to store. */
export function createKeyring(masterKey: Uint8Array, now: Date): { keyring: Keyring; sealed: Uint8Array } {
  const message = create(KeyringSchema, {
    keys: [{ id: 1, key: randomBytes(32), createTimeSeconds: BigInt(Math.floor(now.getTime() / 1000)) }],
    activeKeyId: 1,
  });
  const plaintext = toBinary(KeyringSchema, message);
  const sealed = toBinary(
    SealedKeyringSchema,
    create(SealedKeyringSchema, { format: keyringFormat, ciphertext: aeadSeal(masterKey, plaintext, keyringAad) }),
  );
  plaintext.fill(0);
  return { keyring: keyringFromMessage(message), sealed };
}

/**
 * Opens a stored keyring with the master key. A master key that does not
 * open it is refused: the keyring doubles as the key-check value.
 */
export function openKeyring(masterKey: Uint8Array, sealedBytes: Uint8Array): Keyring {
  let sealed;
  try {
    sealed = fromBinary(SealedKeyringSchema, sealedBytes);
  } catch (cause) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", "the stored keyring is corrupt", { cause });
  }
  if (sealed.format !== keyringFormat) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the stored keyring has unknown format ${sealed.format}`);
  }
  const plaintext = aeadOpen(masterKey, sealed.ciphertext, keyringAad);
  if (plaintext === undefined) {
    throw new CredbrokerError(
      "ERR_MASTER_KEY_MISMATCH",
      "the master key does not open this data directory's keyring (wrong CREDBROKER_MASTER_KEY or --master-key-file?)",
    );
  }
  const keyring = keyringFromMessage(fromBinary(KeyringSchema, plaintext));
  plaintext.fill(0);
  return keyring;
}

function keyringFromMessage(message: KeyringMessage): Keyring {
  const keys = new Map<number, Uint8Array>();
  for (const key of message.keys) {
    if (key.key.length !== 32) {
      throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `keyring key ${key.id} is not 32 bytes`);
    }
    // a copy: fromBinary returns views into the plaintext, which the caller zeroes
    keys.set(key.id, key.key.slice());
  }
  const activeKey = keys.get(message.activeKeyId);
  if (activeKey === undefined) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the keyring lacks its active key ${message.activeKeyId}`);
  }
  return {
    activeKeyId: message.activeKeyId,
    activeKey,
    keyById: (id) => keys.get(id),
  };
}
