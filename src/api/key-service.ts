import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { KeyService, KeyTermSchema, type KeyTerm } from "../gen/credbroker/v1/key_service_pb.ts";
import { countRecordsByKey } from "../keys/count-records.ts";
import type { Rewrapper } from "../keys/rewrapper.ts";
import type { StoredKeyring } from "../keys/stored-keyring.ts";
import type { SecretStore } from "../store/secret-store.ts";

/** What the key service needs. */
export interface KeyServiceDeps {
  /** Where records live (counted per key). */
  store: SecretStore;
  /** The keyring the sealer uses, as stored; a rotation switches its active key. */
  keys: StoredKeyring;
  /** Moves records to the active key in the background. */
  rewrapper: Rewrapper;
  /** The clock (tests pass their own). */
  now?: () => Date;
}

/** KeyService: rotate the keyring and report what each term still wraps. */
export function createKeyService(deps: KeyServiceDeps): ServiceImpl<typeof KeyService> {
  const { store, keys, rewrapper } = deps;
  const { keyring } = keys;
  const now = deps.now ?? (() => new Date());

  async function terms(): Promise<KeyTerm[]> {
    const counts = await countRecordsByKey(store);
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
      const term = await keys.rotate(now());
      const all = await terms();
      rewrapper.kick();
      return { newTerm: all.find((t) => t.keyId === term.id), terms: all };
    },

    async getKeyStatus() {
      const all = await terms();
      return {
        terms: all,
        rewrapRunning: rewrapper.running,
        recordsToRewrap: all.filter((t) => !t.active).reduce((sum, t) => sum + t.recordCount, 0n),
      };
    },
  };
}
