/**
 * Last used: an Inject notes its secret's time in memory; the times reach
 * the store once a minute and at shutdown, never once per Inject, and
 * survive a restart. Real broker, real store (wrapped only to count its
 * last-use writes and commits).
 */
import { afterEach, describe, expect, it } from "vitest";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";

/** Counts of what reached the real store. */
interface Writes {
  lastUseWrites: number[];
  commits: number;
  /** How many names each read of last-use times asked for. */
  lastUseReads?: number[];
}

function counting(writes: Writes) {
  return (store: SecretStore): SecretStore => ({
    ...store,
    getLastUses(mode, names) {
      writes.lastUseReads?.push(names.length);
      return store.getLastUses(mode, names);
    },
    async putLastUses(uses) {
      writes.lastUseWrites.push(uses.length);
      return store.putLastUses(uses);
    },
    async commit(batch, events) {
      writes.commits++;
      return store.commit(batch, events);
    },
  });
}

const brokers: TestBroker[] = [];
afterEach(async () => {
  for (const broker of brokers.splice(0)) {
    await broker.close();
  }
});

const bearer = { kind: { case: "bearerToken" as const, value: { token: "tok" } } };

describe("last used", () => {
  it("appears after an Inject, costs no store write per Inject, one write at shutdown, and survives a restart", async () => {
    const writes: Writes = { lastUseWrites: [], commits: 0 };
    const first = await startTestBroker({}, { wrapStore: counting(writes) });
    const admin = first.connect(SecretService, first.adminToken);
    await admin.createSecret({ mode: Mode.TEST, name: "used", credentials: bearer });
    await admin.createSecret({ mode: Mode.TEST, name: "unused", credentials: bearer });
    expect((await admin.getSecret({ mode: Mode.TEST, name: "used" })).secret?.lastUseTime).toBeUndefined();
    writes.commits = 0;
    const before = Date.now();
    const clients = [first.connect(InjectService), first.grpcOverConnect(InjectService)];
    for (let i = 0; i < 200; i++) {
      await clients[i % 2]!.inject({ mode: Mode.TEST, name: "used", step: StepKind.HTTP });
    }
    const after = Date.now();
    expect(writes).toEqual({ lastUseWrites: [], commits: 0 });
    const shown = (await admin.getSecret({ mode: Mode.TEST, name: "used" })).secret?.lastUseTime;
    expect(shown).toBeDefined();
    const shownMs = timestampMs(shown!);
    expect(shownMs).toBeGreaterThanOrEqual(before);
    expect(shownMs).toBeLessThanOrEqual(after);
    const listed = await admin.listSecrets({ mode: Mode.TEST });
    expect(listed.secrets.map((secret) => [secret.name, secret.lastUseTime === undefined ? undefined : timestampMs(secret.lastUseTime)])).toEqual([
      ["unused", undefined],
      ["used", shownMs],
    ]);
    // the same secret in the other mode is another secret
    expect((await admin.listSecrets({ mode: Mode.LIVE })).secrets).toEqual([]);

    await first.close({ keepData: true });
    // 200 Injects: one write of one secret's time, at shutdown
    expect(writes.lastUseWrites).toEqual([1]);

    const second = await startTestBroker({
      dataDir: first.dataDir,
      masterKey: { value: first.masterKey, source: "test" },
      adminToken: { value: first.adminToken, source: "test" },
    });
    brokers.push(second);
    const restarted = second.connect(SecretService, second.adminToken);
    const kept = (await restarted.getSecret({ mode: Mode.TEST, name: "used" })).secret?.lastUseTime;
    expect(kept === undefined ? undefined : timestampMs(kept)).toBe(shownMs);
    expect((await restarted.getSecret({ mode: Mode.TEST, name: "unused" })).secret?.lastUseTime).toBeUndefined();

    // a deleted secret's time goes with it: created again, it was never used
    await restarted.deleteSecret({ mode: Mode.TEST, name: "used" });
    await restarted.createSecret({ mode: Mode.TEST, name: "used", credentials: bearer });
    expect((await restarted.getSecret({ mode: Mode.TEST, name: "used" })).secret?.lastUseTime).toBeUndefined();
  });

  it("shows a listed page's stored and noted times, read from the store once per page", async () => {
    const writes: Writes = { lastUseWrites: [], commits: 0, lastUseReads: [] };
    const tb = await startTestBroker({}, { wrapStore: counting(writes), lastUseFlushIntervalMs: 200 });
    brokers.push(tb);
    const admin = tb.connect(SecretService, tb.adminToken);
    const names = ["a-stored", "b-never", "c-noted", "d-stored", "e-never"];
    for (const name of names) {
      await admin.createSecret({ mode: Mode.TEST, name, credentials: bearer });
    }
    const inject = tb.grpcOverConnect(InjectService);
    await inject.inject({ mode: Mode.TEST, name: "a-stored", step: StepKind.HTTP });
    await inject.inject({ mode: Mode.TEST, name: "d-stored", step: StepKind.HTTP });
    await expect.poll(() => writes.lastUseWrites.length, { timeout: 5000, interval: 20 }).toBeGreaterThan(0);
    const noted = Date.now();
    await inject.inject({ mode: Mode.TEST, name: "c-noted", step: StepKind.HTTP });
    const shownMs = async (name: string) => {
      const time = (await admin.getSecret({ mode: Mode.TEST, name })).secret?.lastUseTime;
      return time === undefined ? undefined : timestampMs(time);
    };
    const one = await Promise.all(names.map(shownMs));
    expect(one.map((time) => time !== undefined)).toEqual([true, false, true, true, false]);
    expect(one[2]).toBeGreaterThanOrEqual(noted);
    writes.lastUseReads!.length = 0;
    const pages = [await admin.listSecrets({ mode: Mode.TEST, pageSize: 3 })];
    pages.push(await admin.listSecrets({ mode: Mode.TEST, pageSize: 3, pageToken: pages[0]!.nextPageToken }));
    const listed = pages.flatMap((page) => page.secrets.map((secret) => secret.lastUseTime === undefined ? undefined : timestampMs(secret.lastUseTime)));
    expect(listed).toEqual(one);
    // one read of each page's names, none per secret
    expect(writes.lastUseReads).toEqual([3, 2]);
  });

  it("flushes on its interval: one write per interval for any number of Injects, of every secret used", async () => {
    const writes: Writes = { lastUseWrites: [], commits: 0 };
    const tb = await startTestBroker({}, { wrapStore: counting(writes), lastUseFlushIntervalMs: 300 });
    brokers.push(tb);
    const admin = tb.connect(SecretService, tb.adminToken);
    for (const name of ["one", "two", "three"]) {
      await admin.createSecret({ mode: Mode.TEST, name, credentials: bearer });
    }
    const inject = tb.grpcOverConnect(InjectService);
    await Promise.all(
      Array.from({ length: 90 }, (_, i) => inject.inject({ mode: Mode.TEST, name: ["one", "two", "three"][i % 3]!, step: StepKind.HTTP })),
    );
    await expect.poll(() => writes.lastUseWrites.length, { timeout: 5000, interval: 50 }).toBeGreaterThan(0);
    // 90 Injects in one burst: their times reach the store in at most two writes (the burst may straddle a tick), three secrets in all
    expect(writes.lastUseWrites.length).toBeLessThanOrEqual(2);
    expect(writes.lastUseWrites.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6);
    await new Promise((resolve) => setTimeout(resolve, 700));
    // nothing used since: no empty writes
    expect(writes.lastUseWrites.length).toBeLessThanOrEqual(2);
  });
});
