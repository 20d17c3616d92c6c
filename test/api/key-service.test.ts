import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../../src/gen/credbroker/v1/key_service_pb.ts";
import { Mode, SecretType, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { countRecordsByKey } from "../../src/keys/count-records.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import { join } from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

const value = (i: number) => `sk_rot_${i}_${"x".repeat(i % 7)}`;

async function seed(tb: TestBroker, from: number, to: number): Promise<void> {
  const secrets = tb.grpcOverConnect(SecretService, tb.adminToken);
  for (let i = from; i < to; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, to - i) }, (_, j) =>
        secrets.createSecret({
          mode: (i + j) % 2 === 0 ? Mode.TEST : Mode.LIVE,
          name: `s-${i + j}`,
          credentials: { kind: { case: "apiKey", value: { keyName: "X-Api-Key", keyValue: value(i + j) } } },
        }),
      ),
    );
  }
}

/** Injects every secret of [from, to) and checks its value. */
async function expectAllOpen(tb: TestBroker, from: number, to: number): Promise<void> {
  const inject = tb.grpcOverConnect(InjectService, tb.adminToken);
  for (let i = from; i < to; i += 100) {
    const answers = await Promise.all(
      Array.from({ length: Math.min(100, to - i) }, (_, j) =>
        inject.inject({ mode: (i + j) % 2 === 0 ? Mode.TEST : Mode.LIVE, name: `s-${i + j}`, step: StepKind.HTTP }),
      ),
    );
    answers.forEach((answer, j) => {
      expect(answer.material.case).toBe("http");
      const headers = answer.material.case === "http" ? answer.material.value.headers : [];
      expect(headers.find((h) => h.name === "X-Api-Key")?.value).toBe(value(i + j));
    });
  }
}

/** Polls GetKeyStatus until no record is left on an older key; returns every records_to_rewrap seen. */
async function untilRewrapped(tb: TestBroker): Promise<bigint[]> {
  const keys = tb.grpcOverConnect(KeyService, tb.adminToken);
  const seen: bigint[] = [];
  for (let i = 0; i < 600; i++) {
    const status = await keys.getKeyStatus({});
    seen.push(status.recordsToRewrap);
    if (status.recordsToRewrap === 0n && !status.rewrapRunning) {
      return seen;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`rewrap did not finish: ${seen.slice(-3).join(", ")}`);
}

/** Counts records by key id straight from the data dir (the broker stopped). */
async function storedCounts(dataDir: string): Promise<Map<number, number>> {
  const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
  try {
    return await countRecordsByKey(store);
  } finally {
    await store.close();
  }
}

describe("KeyService", () => {
  const open: TestBroker[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((tb) => tb.close({ keepData: true })));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const start = async (...args: Parameters<typeof startTestBroker>) => {
    const tb = await startTestBroker(...args);
    open.push(tb);
    dirs.push(tb.dataDir);
    return tb;
  };
  const stop = async (tb: TestBroker) => {
    open.splice(open.indexOf(tb), 1);
    await tb.close({ keepData: true });
  };

  it("requires the admin token", async () => {
    const tb = await start();
    for (const client of [tb.grpcOverConnect(KeyService), tb.grpcOverConnect(KeyService, "wrong-token"), tb.connect(KeyService, "wrong")]) {
      await expect(client.getKeyStatus({})).rejects.toMatchObject({ code: Code.Unauthenticated });
      await expect(client.rotateKey({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    const status = await tb.connect(KeyService, tb.adminToken).getKeyStatus({});
    expect(status.terms.map((t) => [t.keyId, t.active])).toEqual([[1, true]]);
  });

  it("rotates: new records seal under the new key, every old and new record opens, and the rewrap moves the counts to 0", async () => {
    const tb = await start({}, { rewrapBatchSize: 25 });
    await seed(tb, 0, 300);
    const keys = tb.grpcOverConnect(KeyService, tb.adminToken);
    const rotated = await keys.rotateKey({});
    expect(rotated.newTerm).toMatchObject({ keyId: 2, active: true, recordCount: 0n });
    expect(rotated.terms.map((t) => [t.keyId, t.active, t.recordCount])).toEqual([
      [1, false, 300n],
      [2, true, 0n],
    ]);
    await seed(tb, 300, 320);
    const seen = await untilRewrapped(tb);
    const status = await keys.getKeyStatus({});
    expect(status.terms.map((t) => [t.keyId, t.active, t.recordCount])).toEqual([
      [1, false, 0n],
      [2, true, 320n],
    ]);
    // the counts never go up while the rewrap proceeds
    expect(seen).toEqual([...seen].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    await expectAllOpen(tb, 0, 320);

    // a second rotation: the rewrap moves everything again, and the old terms stay in the keyring
    expect((await keys.rotateKey({})).newTerm?.keyId).toBe(3);
    await untilRewrapped(tb);
    expect((await keys.getKeyStatus({})).terms.map((t) => [t.keyId, t.recordCount])).toEqual([
      [1, 0n],
      [2, 0n],
      [3, 320n],
    ]);
    await expectAllOpen(tb, 0, 320);
  });

  it("resumes the rewrap after a restart, from the records themselves", { timeout: 120_000 }, async () => {
    const first = await start({}, { rewrapBatchSize: 20 });
    await seed(first, 0, 3000);
    const rotated = await first.grpcOverConnect(KeyService, first.adminToken).rotateKey({});
    expect(rotated.terms.map((t) => t.recordCount)).toEqual([3000n, 0n]);
    await stop(first);
    const left = await storedCounts(first.dataDir);
    // stopped mid-rewrap: some records moved, some did not
    expect(left.get(1) ?? 0).toBeGreaterThan(0);
    expect((left.get(1) ?? 0) + (left.get(2) ?? 0)).toBe(3000);

    const second = await start({ dataDir: first.dataDir, masterKey: { value: first.masterKey, source: "test" }, adminToken: { value: first.adminToken, source: "test" } });
    await untilRewrapped(second);
    expect((await second.grpcOverConnect(KeyService, second.adminToken).getKeyStatus({})).terms.map((t) => t.recordCount)).toEqual([0n, 3000n]);
    await expectAllOpen(second, 0, 3000);
  });

  it("keeps DATA_LOSS for tampered records and rewraps every other one", async () => {
    const first = await start({}, { rewrapBatchSize: 10 });
    await seed(first, 0, 40);
    await stop(first);
    // flip a byte of one record's wrapped data key and of another's payload
    const store = openLmdbStore({ path: join(first.dataDir, "credbroker.mdb") });
    for (const [name, field] of [["s-4", "wrappedKey"], ["s-6", "ciphertext"]] as const) {
      const record = store.get(Mode.TEST, name)!;
      const bytes = new Uint8Array(record.payload![field]);
      bytes[30]! ^= 0x01;
      const tampered = create(SecretRecordSchema, { ...record, payload: { ...record.payload!, [field]: bytes } });
      expect(await store.commit([{ kind: "put", record: tampered, expectVersion: record.secret!.version }])).toBeUndefined();
    }
    await store.close();

    const second = await start(
      { dataDir: first.dataDir, masterKey: { value: first.masterKey, source: "test" }, adminToken: { value: first.adminToken, source: "test" } },
      { rewrapBatchSize: 10 },
    );
    const keys = second.grpcOverConnect(KeyService, second.adminToken);
    await keys.rotateKey({});
    for (let i = 0; i < 200 && (await keys.getKeyStatus({})).rewrapRunning; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const status = await keys.getKeyStatus({});
    // the tampered data key cannot move: it stays on key 1; the tampered payload's data key moved (the payload is not read)
    expect(status.terms.map((t) => t.recordCount)).toEqual([1n, 39n]);
    const inject = second.grpcOverConnect(InjectService, second.adminToken);
    for (const name of ["s-4", "s-6"]) {
      await expect(inject.inject({ mode: Mode.TEST, name, step: StepKind.HTTP })).rejects.toMatchObject({ code: Code.DataLoss });
    }
    expect(second.logs()).toContain("rewrap: record does not open");
    await expectAllOpen(second, 0, 4);
    await expectAllOpen(second, 7, 40);
  });

  it("counts the records by key a page at a time, letting calls in between pages", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-count-"));
    dirs.push(dir);
    const store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
    try {
      const record = (name: string, keyId: number) =>
        create(SecretRecordSchema, {
          secret: { name, mode: Mode.TEST, type: SecretType.BEARER_TOKEN, version: 1n },
          payload: { format: 1, keyId, wrappedKey: new Uint8Array(56), ciphertext: new Uint8Array(4) },
        });
      await store.commit(Array.from({ length: 2500 }, (_, i) => ({ kind: "put" as const, record: record(`r-${i}`, 1 + (i % 2)), expectVersion: 0n })));
      // a call that arrives once the walk has begun: on the event loop it waits for the walk, or runs between its pages
      let callRan = false;
      const pagesReadAfterCall: boolean[] = [];
      const watched = { listSeals: (...args: Parameters<typeof store.listSeals>) => (pagesReadAfterCall.push(callRan), store.listSeals(...args)) };
      const counting = countRecordsByKey(watched);
      setImmediate(() => (callRan = true));
      expect(Object.fromEntries(await counting)).toEqual({ 1: 1250, 2: 1250 });
      expect(pagesReadAfterCall[0]).toBe(false);
      expect(pagesReadAfterCall.at(-1)).toBe(true);
    } finally {
      await store.close();
    }
  });
});

