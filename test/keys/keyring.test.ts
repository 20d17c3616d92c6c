import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createKeyring, openKeyring } from "../../src/keys/keyring.ts";
import { hasStoredKeyring, loadStoredKeyring } from "../../src/keys/stored-keyring.ts";
import type { RecordBinding } from "../../src/seal/record-binding.ts";
import { createSealer } from "../../src/seal/sealer.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";
import { codeOf } from "../support/error-code.ts";

const masterKey = () => new Uint8Array(randomBytes(32));
const time = { seconds: 1_700_000_000n, nanos: 0 };
const binding: RecordBinding = {
  mode: Mode.TEST,
  name: "stripe-api-key",
  type: SecretType.API_KEY,
  version: 3n,
  generation: 1n,
  description: "",
  createTime: time,
  updateTime: time,
};
const canary = new TextEncoder().encode("canary-sealed-plaintext-6b1f");

describe("keyring", () => {
  it("opens with its master key and seals the same way after reopening", () => {
    const key = masterKey();
    const { keyring, sealed } = createKeyring(key, new Date());
    const reopened = openKeyring(key, sealed);
    expect(reopened.activeKeyId).toBe(keyring.activeKeyId);
    const payload = createSealer(keyring).seal(binding, canary);
    expect(new TextDecoder().decode(createSealer(reopened).open(binding, payload))).toBe("canary-sealed-plaintext-6b1f");
  });

  it("refuses a wrong master key with ERR_MASTER_KEY_MISMATCH", () => {
    const { sealed } = createKeyring(masterKey(), new Date());
    expect(codeOf(() => openKeyring(masterKey(), sealed))).toBe("ERR_MASTER_KEY_MISMATCH");
  });

  it("refuses a corrupt keyring", () => {
    const key = masterKey();
    const { sealed } = createKeyring(key, new Date());
    const flipped = new Uint8Array(sealed);
    flipped[flipped.length - 1]! ^= 0x80;
    expect(codeOf(() => openKeyring(key, flipped))).toBe("ERR_MASTER_KEY_MISMATCH");
    expect(codeOf(() => openKeyring(key, new Uint8Array([0xff, 0xff])))).toBe("ERR_SEAL_OPEN_FAILED");
  });
});

describe("stored keyring", () => {
  const dirs: string[] = [];
  const stores: SecretStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const openStore = async (): Promise<{ path: string; store: SecretStore }> => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-keys-"));
    dirs.push(dir);
    const path = join(dir, "credbroker.mdb");
    const store = openLmdbStore({ path });
    stores.push(store);
    return { path, store };
  };

  it("creates a keyring in a new store and opens the same one afterwards", async () => {
    const key = masterKey();
    const { store } = await openStore();
    expect(hasStoredKeyring(store)).toBe(false);
    const created = await loadStoredKeyring(store, key, new Date());
    expect(hasStoredKeyring(store)).toBe(true);
    const payload = createSealer(created.keyring).seal(binding, canary);
    const reopened = await loadStoredKeyring(store, key, new Date());
    expect(new TextDecoder().decode(createSealer(reopened.keyring).open(binding, payload))).toBe("canary-sealed-plaintext-6b1f");
    await expect(loadStoredKeyring(store, masterKey(), new Date())).rejects.toMatchObject({ code: "ERR_MASTER_KEY_MISMATCH" });
  });

  it("rotates by compare-and-swap: a keyring rotated by another process refuses with ERR_KEYRING_CHANGED and stays as it was", async () => {
    const key = masterKey();
    const { path, store } = await openStore();
    const mine = await loadStoredKeyring(store, key, new Date());
    const other = openLmdbStore({ path });
    stores.push(other);
    const theirs = await loadStoredKeyring(other, key, new Date());
    expect((await theirs.rotate(new Date())).id).toBe(2);
    await expect(mine.rotate(new Date())).rejects.toMatchObject({ code: "ERR_KEYRING_CHANGED" });
    expect(mine.keyring.activeKeyId).toBe(1);
    expect((await loadStoredKeyring(store, key, new Date())).keyring.activeKeyId).toBe(2);
  });
});
