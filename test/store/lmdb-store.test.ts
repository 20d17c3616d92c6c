import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SecretRecordSchema, type SecretRecord } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore, StoreChange } from "../../src/store/secret-store.ts";

function record(mode: Mode, name: string, version: bigint, marker = "payload"): SecretRecord {
  return create(SecretRecordSchema, {
    secret: { name, mode, type: SecretType.BEARER_TOKEN, version, description: marker },
    payload: { format: 1, keyId: 1, wrappedKey: new Uint8Array(56), ciphertext: new TextEncoder().encode(marker) },
  });
}

/** The project's root, whose modules the other process imports. */
const root = join(import.meta.dirname, "../..");

describe("LMDB store", () => {
  let dir: string;
  let store: SecretStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "credbroker-store-"));
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates, reads, replaces and deletes records", async () => {
    expect(await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 1n), expectVersion: 0n }])).toBeUndefined();
    expect(store.get(Mode.TEST, "a")?.secret?.version).toBe(1n);
    expect(store.get(Mode.LIVE, "a")).toBeUndefined();
    expect(await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 2n, "second"), expectVersion: 1n }])).toBeUndefined();
    expect(store.get(Mode.TEST, "a")?.secret?.description).toBe("second");
    expect(store.isCurrent(Mode.TEST, "a", 2n)).toBe(true);
    expect(store.isCurrent(Mode.TEST, "a", 1n)).toBe(false);
    expect(store.isCurrent(Mode.LIVE, "a", 2n)).toBe(false);
    expect(await store.commit([{ kind: "delete", mode: Mode.TEST, name: "a", expectVersion: 2n }])).toBeUndefined();
    expect(store.get(Mode.TEST, "a")).toBeUndefined();
    expect(store.isCurrent(Mode.TEST, "a", 2n)).toBe(false);
  });

  it("refuses a write whose expected version is stale, and writes nothing", async () => {
    await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 1n), expectVersion: 0n }]);
    const conflict = await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 1n, "again"), expectVersion: 0n }]);
    expect(conflict).toEqual({ mode: Mode.TEST, name: "a", actualVersion: 1n });
    expect(store.get(Mode.TEST, "a")?.secret?.description).toBe("payload");
  });

  it("applies a batch all or nothing: a conflict midway leaves earlier writes undone", async () => {
    await store.commit([{ kind: "put", record: record(Mode.LIVE, "b", 1n, "live-b"), expectVersion: 0n }]);
    const conflict = await store.commit([
      { kind: "put", record: record(Mode.LIVE, "a", 1n), expectVersion: 0n },
      { kind: "put", record: record(Mode.LIVE, "b", 2n), expectVersion: 7n },
      { kind: "put", record: record(Mode.LIVE, "c", 1n), expectVersion: 0n },
    ]);
    expect(conflict?.name).toBe("b");
    expect(store.get(Mode.LIVE, "a")).toBeUndefined();
    expect(store.get(Mode.LIVE, "b")?.secret?.description).toBe("live-b");
    expect(store.get(Mode.LIVE, "c")).toBeUndefined();
  });

  it("keeps concurrent commits independent: one conflict does not undo another's writes", async () => {
    await store.commit([{ kind: "put", record: record(Mode.TEST, "x", 1n), expectVersion: 0n }]);
    const [ok, conflict] = await Promise.all([
      store.commit([{ kind: "put", record: record(Mode.TEST, "y", 1n), expectVersion: 0n }]),
      store.commit([{ kind: "put", record: record(Mode.TEST, "x", 1n), expectVersion: 0n }]),
    ]);
    expect(ok).toBeUndefined();
    expect(conflict?.name).toBe("x");
    expect(store.get(Mode.TEST, "y")?.secret?.version).toBe(1n);
  });

  it("lists a mode in name order, pages after a name, and counts", async () => {
    const names = ["b", "a.x", "a-x", "a_x", "0z", "c", "a"];
    for (const name of names) {
      await store.commit([{ kind: "put", record: record(Mode.TEST, name, 1n), expectVersion: 0n }]);
    }
    await store.commit([{ kind: "put", record: record(Mode.LIVE, "aa", 1n), expectVersion: 0n }]);
    const all = store.list(Mode.TEST, "", 100).map((r) => r.secret?.name);
    expect(all).toEqual([...names].sort());
    expect(store.list(Mode.TEST, "a", 2).map((r) => r.secret?.name)).toEqual(["a-x", "a.x"]);
    expect(store.list(Mode.TEST, "c", 10)).toEqual([]);
    expect(store.count(Mode.TEST)).toBe(names.length);
    expect(store.count(Mode.LIVE)).toBe(1);
    expect(store.list(Mode.LIVE, "", 10).map((r) => r.secret?.name)).toEqual(["aa"]);
  });

  it("counts what another process sharing the data dir created and deleted", async () => {
    await store.commit([{ kind: "put", record: record(Mode.TEST, "mine", 1n), expectVersion: 0n }]);
    expect(store.count(Mode.TEST)).toBe(1);
    // another broker's process on the same data dir: its commits do not pass through this store
    const other = async (script: string) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, "exit")) as [number | null];
      expect(stderr).toBe("");
      expect(code).toBe(0);
    };
    const opening = `
      import { create } from "@bufbuild/protobuf";
      import { SecretRecordSchema } from ${JSON.stringify(join(root, "src/gen/credbroker/storage/v1/record_pb.ts"))};
      import { Mode, SecretType } from ${JSON.stringify(join(root, "src/gen/credbroker/v1/secret_pb.ts"))};
      import { openLmdbStore } from ${JSON.stringify(join(root, "src/store/lmdb-store.ts"))};
      const store = openLmdbStore({ path: ${JSON.stringify(join(dir, "credbroker.mdb"))} });
      const record = (name) => create(SecretRecordSchema, {
        secret: { name, mode: Mode.TEST, type: SecretType.BEARER_TOKEN, version: 1n },
        payload: { format: 1, keyId: 1, wrappedKey: new Uint8Array(56), ciphertext: new Uint8Array(4) },
      });`;
    await other(`${opening}
      await store.commit(["theirs-1", "theirs-2"].map((name) => ({ kind: "put", record: record(name), expectVersion: 0n })));
      await store.close();`);
    expect(store.count(Mode.TEST)).toBe(3);
    await other(`${opening}
      await store.commit([{ kind: "delete", mode: Mode.TEST, name: "theirs-1", expectVersion: 1n }]);
      await store.close();`);
    expect(store.count(Mode.TEST)).toBe(2);
    expect(store.count(Mode.LIVE)).toBe(0);
  });

  it("reports committed changes, and none for a refused commit", async () => {
    const changes: StoreChange[] = [];
    const stop = store.onChange((change) => changes.push(change));
    await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 1n), expectVersion: 0n }]);
    await store.commit([{ kind: "put", record: record(Mode.TEST, "a", 1n), expectVersion: 0n }]);
    await store.commit([{ kind: "delete", mode: Mode.TEST, name: "a", expectVersion: 1n }]);
    stop();
    await store.commit([{ kind: "put", record: record(Mode.TEST, "b", 1n), expectVersion: 0n }]);
    expect(changes).toEqual([
      { mode: Mode.TEST, name: "a", version: 1n },
      { mode: Mode.TEST, name: "a", version: 0n },
    ]);
  });

  it("persists across close and reopen, metadata included", async () => {
    await store.commit([{ kind: "put", record: record(Mode.LIVE, "kept", 5n, "durable"), expectVersion: 0n }]);
    expect(await store.putMetaIfAbsent("keyring", new Uint8Array([1, 2, 3]))).toBe(true);
    expect(await store.putMetaIfAbsent("keyring", new Uint8Array([9]))).toBe(false);
    await store.close();
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
    expect(store.get(Mode.LIVE, "kept")?.secret?.description).toBe("durable");
    expect(Array.from(store.getMeta("keyring") ?? [])).toEqual([1, 2, 3]);
  });

  it("maps the data file once as it grows, so that its pages are resident once", async () => {
    // 8 MiB of events: a map that started small would have been outgrown (and kept) several times
    const bytes = new Uint8Array(200).fill(7);
    for (let batch = 0; batch < 40; batch++) {
      await store.putEvents(Array.from({ length: 1000 }, (_, i) => ({ sequence: batch * 1000 + i + 1, auditClass: "main" as const, bytes })));
    }
    const maps = (await readFile("/proc/self/maps", "utf8")).split("\n").filter((line) => line.endsWith(join(dir, "credbroker.mdb")));
    expect(maps).toHaveLength(1);
  });
});
