import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SecretRecordSchema, type SecretRecord } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore, StoreChange } from "../../src/store/secret-store.ts";

function record(name: string, version: bigint, keyId: number, wrapped: number): SecretRecord {
  return create(SecretRecordSchema, {
    secret: { name, mode: Mode.TEST, type: SecretType.BEARER_TOKEN, version },
    payload: { format: 2, keyId, wrappedKey: new Uint8Array(56).fill(wrapped), ciphertext: new Uint8Array([1, 2, 3]) },
  });
}

describe("LMDB store: what a rewrap and a rotation rely on", () => {
  let dir: string;
  let store: SecretStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-store-rewrap-"));
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("puts a rewrapped record only over exactly the wrapped key it read, and reports it as a seal-only change", async () => {
    expect(await store.commit([{ kind: "put", record: record("a", 1n, 1, 7), expectVersion: 0n }])).toBeUndefined();
    const changes: StoreChange[] = [];
    store.onChange((change) => changes.push(change));
    // the record was re-created at the same version meanwhile: another wrapped key, so the rewrap is refused
    const stale = await store.commit([
      { kind: "put", record: record("a", 1n, 2, 9), expectVersion: 1n, expectWrappedKey: new Uint8Array(56).fill(8) },
    ]);
    expect(stale).toEqual({ mode: Mode.TEST, name: "a", actualVersion: 1n });
    expect(store.get(Mode.TEST, "a")?.payload?.keyId).toBe(1);
    expect(
      await store.commit([
        { kind: "put", record: record("a", 1n, 2, 9), expectVersion: 1n, expectWrappedKey: new Uint8Array(56).fill(7) },
      ]),
    ).toBeUndefined();
    expect(store.get(Mode.TEST, "a")?.payload?.keyId).toBe(2);
    await store.commit([{ kind: "put", record: record("a", 2n, 2, 5), expectVersion: 1n }]);
    expect(changes).toEqual([
      { mode: Mode.TEST, name: "a", version: 1n, sealOnly: true },
      { mode: Mode.TEST, name: "a", version: 2n },
    ]);
  });

  it("replaces a meta value only while it holds the expected bytes", async () => {
    const first = new Uint8Array([1, 1]);
    expect(await store.putMetaIfAbsent("keyring", first)).toBe(true);
    expect(await store.replaceMeta("keyring", new Uint8Array([9]), new Uint8Array([2]))).toBe(false);
    expect([...store.getMeta("keyring")!]).toEqual([1, 1]);
    expect(await store.replaceMeta("keyring", first, new Uint8Array([2, 2]))).toBe(true);
    expect([...store.getMeta("keyring")!]).toEqual([2, 2]);
    expect(await store.replaceMeta("absent", first, new Uint8Array([3]))).toBe(false);
    expect(store.getMeta("absent")).toBeUndefined();
  });
});
