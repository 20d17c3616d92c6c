import { CredbrokerError } from "../errors.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { createKeyring, openKeyring, type Keyring, type KeyringTerm } from "./keyring.ts";

/** The store metadata key of the sealed keyring. */
export const keyringMetaKey = "keyring";

/** A keyring as a store keeps it, sealed under the master key. */
export interface StoredKeyring {
  /** The keyring the sealer uses; a rotation switches its active key. */
  readonly keyring: Keyring;
  /**
   * Adds a key and makes it active, provided the stored keyring is still the
   * one this process loaded or wrote (compare-and-swap in one transaction);
   * ERR_KEYRING_CHANGED otherwise, and nothing changes.
   */
  rotate(now: Date): Promise<KeyringTerm>;
  /** Takes a sealed keyring the store now holds (fleet mode: written by another sidecar); see Keyring.adopt. */
  adopt(sealed: Uint8Array): void;
}

/** Whether the store holds a keyring yet (a new data dir does not). */
export function hasStoredKeyring(store: SecretStore): boolean {
  return store.getMeta(keyringMetaKey) !== undefined;
}

/**
 * Opens the store's keyring with the master key (ERR_MASTER_KEY_MISMATCH
 * when it does not open it), or creates and stores one when the store has
 * none; when another process stored one first, that one is opened.
 */
export async function loadStoredKeyring(store: SecretStore, masterKey: Uint8Array, now: Date): Promise<StoredKeyring> {
  let sealed = store.getMeta(keyringMetaKey);
  let keyring: Keyring;
  if (sealed !== undefined) {
    keyring = openKeyring(masterKey, sealed);
  } else {
    const created = createKeyring(masterKey, now);
    if (await store.putMetaIfAbsent(keyringMetaKey, created.sealed)) {
      keyring = created.keyring;
      sealed = created.sealed;
    } else {
      sealed = store.getMeta(keyringMetaKey)!;
      keyring = openKeyring(masterKey, sealed);
    }
  }
  let current = sealed;
  return {
    keyring,
    adopt(next) {
      if (Buffer.compare(next, current) === 0) {
        return;
      }
      keyring.adopt(masterKey, next);
      current = next;
    },
    async rotate(at) {
      const term = await keyring.rotate(masterKey, at, async (next) => {
        if (!(await store.replaceMeta(keyringMetaKey, current, next))) {
          return false;
        }
        current = next;
        return true;
      });
      if (term === undefined) {
        throw new CredbrokerError(
          "ERR_KEYRING_CHANGED",
          "the stored keyring changed under this broker (another process rotated or rekeyed it); restart the broker",
        );
      }
      return term;
    },
  };
}
