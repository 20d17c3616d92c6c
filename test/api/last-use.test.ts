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
}

function counting(writes: Writes) {
  return (store: SecretStore): SecretStore => ({
    ...store,
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
