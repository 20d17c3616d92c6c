import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { randomBytes } from "@noble/ciphers/utils.js";
import {
  KeyringSchema,
  SealedKeyringSchema,
  type Keyring as KeyringMessage,
} from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { aeadOpen, aeadSeal } from "../seal/aead.ts";

/** The keyring format this build writes. */
const keyringFormat = 1;
const keyringAad = new TextEncoder().encode("credbroker keyring v1");

/** One key of the keyring (a term). */
export interface KeyringTerm {
  /** Unique, growing from 1. */
  readonly id: number;
  /** When the key was added. */
  readonly createTime: Date;
}

/**
 * The keys that wrap data keys: one active key seals, every key opens. The
 * object is shared by the sealer and the key service; `rotate` switches the
 * active key for every seal that starts after it.
 */
export interface Keyring {
  /** The id of the key that wraps new data keys. */
  readonly activeKeyId: number;
  /** The active key's id and key, read together so that a rotation cannot split them. */
  active(): { readonly id: number; readonly key: Uint8Array };
  /** The key of that id, if the keyring has it. */
  keyById(id: number): Uint8Array | undefined;
  /** Every term, oldest first. */
  terms(): KeyringTerm[];
  /**
   * Adds a new random key that becomes active once `persist` has stored the
   * sealed keyring; if `persist` throws or returns false, nothing changes.
   */
  rotate(masterKey: Uint8Array, now: Date, persist: (sealed: Uint8Array) => Promise<boolean>): Promise<KeyringTerm | undefined>;
  /** The keyring sealed under a master key, for the store. */
  seal(masterKey: Uint8Array): Uint8Array;
  /**
   * Takes the terms of a keyring another process stored (fleet mode: a
   * rotation on another sidecar): keys are only ever added, so every record
   * that opened before still opens. Refused (and nothing changes) when the
   * master key does not open it or it lacks a key this keyring has.
   */
  adopt(masterKey: Uint8Array, sealed: Uint8Array): void;
}

/** A new keyring with one random key, and its sealed form to store. */
export function createKeyring(masterKey: Uint8Array, now: Date): { keyring: Keyring; sealed: Uint8Array } {
  const message = create(KeyringSchema, {
    keys: [{ id: 1, key: randomBytes(32), createTimeSeconds: seconds(now) }],
    activeKeyId: 1,
  });
  const keyring = keyringFromMessage(message);
  // the keyring holds a copy; the message's key is not needed again
  message.keys[0]!.key.fill(0);
  return { keyring, sealed: keyring.seal(masterKey) };
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
      "the master key does not open the stored keyring (the data dir's, or in fleet mode the fleet's) (wrong CREDBROKER_MASTER_KEY or --master-key-file?)",
    );
  }
  try {
    return keyringFromMessage(fromBinary(KeyringSchema, plaintext));
  } finally {
    plaintext.fill(0);
  }
}

/** Seals the keyring bytes under a master key (the stored SealedKeyring). */
function sealKeyring(masterKey: Uint8Array, message: KeyringMessage): Uint8Array {
  const plaintext = toBinary(KeyringSchema, message);
  try {
    return toBinary(
      SealedKeyringSchema,
      create(SealedKeyringSchema, { format: keyringFormat, ciphertext: aeadSeal(masterKey, plaintext, keyringAad) }),
    );
  } finally {
    plaintext.fill(0);
  }
}

function keyringFromMessage(message: KeyringMessage): Keyring {
  const keys = new Map<number, Uint8Array>();
  const terms: KeyringTerm[] = [];
  for (const key of message.keys) {
    if (key.key.length !== 32) {
      throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `keyring key ${key.id} is not 32 bytes`);
    }
    // a copy: fromBinary returns views into the plaintext, which the caller zeroes
    keys.set(key.id, key.key.slice());
    terms.push({ id: key.id, createTime: new Date(Number(key.createTimeSeconds) * 1000) });
  }
  let active = { id: message.activeKeyId, key: keys.get(message.activeKeyId)! };
  if (active.key === undefined) {
    throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `the keyring lacks its active key ${message.activeKeyId}`);
  }
  // the message the keyring is sealed from; its key bytes are the map's own copies
  const toMessage = (extra: { id: number; key: Uint8Array; createTimeSeconds: bigint }[], activeKeyId: number) =>
    create(KeyringSchema, {
      keys: [
        ...terms.map((term) => ({ id: term.id, key: keys.get(term.id)!, createTimeSeconds: seconds(term.createTime) })),
        ...extra,
      ],
      activeKeyId,
    });
  let rotating = Promise.resolve<unknown>(undefined);
  return {
    get activeKeyId() {
      return active.id;
    },
    active: () => active,
    keyById: (id) => keys.get(id),
    terms: () => terms.slice(),
    seal: (masterKey) => sealKeyring(masterKey, toMessage([], active.id)),
    adopt(masterKey, sealed) {
      const other = openKeyring(masterKey, sealed);
      const missing = [...keys.keys()].filter((id) => other.keyById(id) === undefined);
      if (missing.length > 0) {
        throw new CredbrokerError("ERR_KEYRING_CHANGED", `the stored keyring lacks key ${missing.join(", ")} of this broker's; not taken`);
      }
      for (const term of other.terms()) {
        if (!keys.has(term.id)) {
          keys.set(term.id, other.keyById(term.id)!);
          terms.push(term);
        }
      }
      active = { id: other.activeKeyId, key: keys.get(other.activeKeyId)! };
    },
    rotate(masterKey, now, persist) {
      // one rotation at a time within this process; the store's compare-and-swap covers others
      const result = rotating.then(async () => {
        const id = Math.max(...keys.keys()) + 1;
        const key = randomBytes(32);
        const createTime = new Date(Math.floor(now.getTime() / 1000) * 1000);
        const sealed = sealKeyring(masterKey, toMessage([{ id, key, createTimeSeconds: seconds(createTime) }], id));
        if (!(await persist(sealed))) {
          key.fill(0);
          return undefined;
        }
        // in fleet mode the stored keyring may have come back to this process (adopt) before persist returned
        if (!keys.has(id)) {
          keys.set(id, key);
          terms.push({ id, createTime });
        }
        active = { id, key: keys.get(id)! };
        return terms.find((term) => term.id === id)!;
      });
      rotating = result.catch(() => undefined);
      return result;
    },
  };
}

function seconds(date: Date): bigint {
  return BigInt(Math.floor(date.getTime() / 1000));
}
