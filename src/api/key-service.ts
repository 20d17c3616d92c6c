import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { KeyService, KeyTermSchema, type KeyTerm } from "../gen/credbroker/v1/key_service_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { Keyring } from "../seal/keyring.ts";
import { countRecordsByKey, type Rewrapper } from "../seal/rewrapper.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** What the key service needs. */
export interface KeyServiceDeps {
  /** Where records and the sealed keyring live. */
  store: SecretStore;
  /** The keyring the sealer uses; a rotation switches its active key. */
  keyring: Keyring;
  /** The master key that seals the keyring at rest. */
  masterKey: Uint8Array;
  /** The store metadata key of the sealed keyring. */
  keyringMetaKey: string;
  /** The sealed keyring as this process loaded or wrote it, which a rotation expects to replace. */
  sealedKeyring: Uint8Array;
  /** Moves records to the active key in the background. */
  rewrapper: Rewrapper;
  /** The clock (tests pass their own). */
  now?: () => Date;
}

/** KeyService: rotate the keyring and report what each term still wraps. */
export function createKeyService(deps: KeyServiceDeps): ServiceImpl<typeof KeyService> {
  const { store, keyring, masterKey, keyringMetaKey, rewrapper } = deps;
  const now = deps.now ?? (() => new Date());
  let sealedKeyring = deps.sealedKeyring;

  function terms(): KeyTerm[] {
    const counts = countRecordsByKey(store);
    return keyring.terms().map((term) =>
      create(KeyTermSchema, {
        keyId: term.id,
        createTime: timestampFromDate(term.createTime),
        active: term.id === keyring.activeKeyId,
        recordCount: BigInt(counts.get(term.id) ?? 0),
      }),
    );
  }

  return {
    async rotateKey() {
      const term = await keyring.rotate(masterKey, now(), async (sealed) => {
        // the stored keyring must still be the one this process holds: compare-and-swap in one transaction
        if (!(await store.replaceMeta(keyringMetaKey, sealedKeyring, sealed))) {
          return false;
        }
        sealedKeyring = sealed;
        return true;
      });
      if (term === undefined) {
        throw new CredbrokerError(
          "ERR_KEYRING_CHANGED",
          "the stored keyring changed under this broker (another process rotated or rekeyed it); restart the broker",
        );
      }
      const all = terms();
      rewrapper.kick();
      return { newTerm: all.find((t) => t.keyId === term.id), terms: all };
    },

    getKeyStatus() {
      const all = terms();
      return {
        terms: all,
        rewrapRunning: rewrapper.running,
        recordsToRewrap: all.filter((t) => !t.active).reduce((sum, t) => sum + t.recordCount, 0n),
      };
    },
  };
}
