import type { SecretStore } from "../store/secret-store.ts";
import { CredbrokerError } from "../errors.ts";
import { openKeyring } from "./keyring.ts";
import { keyringMetaKey } from "./stored-keyring.ts";

/**
 * Re-wraps the stored keyring under a new master key in one transaction.
 * Records are untouched: their data keys are wrapped by keyring keys, which
 * stay the same. Afterwards only the new master key opens the keyring.
 */
export async function rekeyStore(store: SecretStore, oldMasterKey: Uint8Array, newMasterKey: Uint8Array): Promise<void> {
  const sealed = store.getMeta(keyringMetaKey);
  if (sealed === undefined) {
    throw new CredbrokerError("ERR_NO_KEYRING", "the data dir has no keyring yet: nothing to rekey");
  }
  // ERR_MASTER_KEY_MISMATCH when the old key is not the current one
  const keyring = openKeyring(oldMasterKey, sealed);
  const resealed = keyring.seal(newMasterKey);
  if (!(await store.replaceMeta(keyringMetaKey, sealed, resealed))) {
    throw new CredbrokerError("ERR_KEYRING_CHANGED", "the keyring changed during the rekey (is a broker running?); nothing was changed");
  }
}
