/**
 * The audit database of the LMDB store: events commit with the change or
 * not at all, sequences stay time-ordered across a reopen, and retention
 * removes by count and by age in bounded batches.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAuditRetention } from "../../src/audit/audit-retention.ts";
import { SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { AuditEventSchema, type AuditEvent } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode, SecretSchema } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { AuditClass, SecretStore } from "../../src/store/secret-store.ts";

let dir: string;
let store: SecretStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "credbroker-audit-"));
  store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sequences an event as the audit log does and writes it with putEvents. */
function put(one: AuditEvent, auditClass: AuditClass = "main"): Promise<void> {
  const micros = Number(one.time!.seconds) * 1e6 + one.time!.nanos / 1000;
  const sequence = store.nextEventSequence(micros);
  return store.putEvents([{ sequence, auditClass, bytes: toBinary(AuditEventSchema, { ...one, sequence: BigInt(sequence) }) }]);
}

function event(name: string, at = new Date()): AuditEvent {
  return create(AuditEventSchema, { time: timestampFromDate(at), method: "m", secrets: [{ name }], code: "ok" });
}

function record(name: string, version: bigint, mode: Mode = Mode.TEST) {
  return create(SecretRecordSchema, { secret: create(SecretSchema, { name, mode, version }) });
}

describe("audit events in the store", () => {
  it("commits a change and its event together, and neither when the commit fails", async () => {
    expect(await store.commit([{ kind: "put", record: record("a", 1n), expectVersion: 0n }], [event("a")])).toBeUndefined();
    expect(store.get(Mode.TEST, "a")?.secret?.version).toBe(1n);
    expect(store.eventCount()).toBe(1);

    // a conflict: nothing written, neither the other write nor the event
    const conflict = await store.commit(
      [
        { kind: "put", record: record("b", 1n), expectVersion: 0n },
        { kind: "put", record: record("a", 2n), expectVersion: 5n },
      ],
      [event("a")],
    );
    expect(conflict?.actualVersion).toBe(1n);
    expect(store.get(Mode.TEST, "b")).toBeUndefined();
    expect(store.eventCount()).toBe(1);

    // a write that throws after the event was put in the transaction: the event is rolled back
    await expect(
      store.commit([{ kind: "put", record: record("c", 1n, Mode.UNSPECIFIED), expectVersion: 0n }], [event("c")]),
    ).rejects.toMatchObject({ code: "ERR_INVALID_FIELD" });
    expect(store.eventCount()).toBe(1);
    expect(store.listEvents(0n, 10).map((e) => e.secrets[0]?.name)).toEqual(["a"]);
  });

  it("appends concurrent events with unique, increasing sequences that survive a reopen", async () => {
    const now = new Date();
    await Promise.all(Array.from({ length: 200 }, (_, i) => put(event(`e${i}`, now))));
    const events = store.listEvents(0n, 1000);
    expect(events.length).toBe(200);
    const sequences = events.map((e) => e.sequence);
    expect(new Set(sequences).size).toBe(200);
    expect(sequences[0]).toBeGreaterThanOrEqual(BigInt(now.getTime()) * 1000n);
    await store.close();
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
    // an event stamped earlier still sorts after everything stored
    await put(event("later", new Date(now.getTime() - 60_000)));
    const last = store.listEvents(0n, 1000).at(-1)!;
    expect(last.secrets[0]?.name).toBe("later");
    expect(last.sequence).toBeGreaterThan(sequences.at(-1)!);
  });

  it("retention removes the oldest beyond the count, in bounded batches", async () => {
    for (let i = 0; i < 20; i++) {
      await put(event(`e${i}`));
    }
    expect(await store.pruneEvents(0n, 5, 4)).toBe(4);
    expect(store.eventCount()).toBe(16);
    const retention = startAuditRetention({
      store,
      maxEvents: 5,
      maxRefusedEvents: 5,
      maxAgeMs: 90 * 86_400_000,
      intervalMs: 3_600_000,
      batchSize: 4,
      logger: pino({ level: "silent" }),
    });
    expect(await retention.runOnce()).toBe(11);
    await retention.stop();
    expect(store.listEvents(0n, 100).map((e) => e.secrets[0]?.name)).toEqual(["e15", "e16", "e17", "e18", "e19"]);
  });

  it("retention removes events older than the configured age", async () => {
    const old = new Date(Date.now() - 100 * 86_400_000);
    for (let i = 0; i < 10; i++) {
      await put(event(`old${i}`, old));
    }
    for (let i = 0; i < 3; i++) {
      await put(event(`new${i}`));
    }
    const retention = startAuditRetention({
      store,
      maxEvents: 1_000_000,
      maxRefusedEvents: 100_000,
      maxAgeMs: 90 * 86_400_000,
      intervalMs: 3_600_000,
      batchSize: 3,
      logger: pino({ level: "silent" }),
    });
    expect(await retention.runOnce()).toBe(10);
    await retention.stop();
    expect(store.listEvents(0n, 100).map((e) => e.secrets[0]?.name)).toEqual(["new0", "new1", "new2"]);
  });

  it("keeps the refused class apart: its own count and pruning, listed merged in sequence order, sequences unique across a reopen", async () => {
    await put(event("kept-1"));
    for (let i = 0; i < 30; i++) {
      await put(event(`refused-${i}`), "refused");
    }
    await put(event("kept-2"));
    expect([store.eventCount(), store.eventCount("refused")]).toEqual([2, 30]);
    // main's cap counts main events only, so the refusals cannot push these out
    expect(await store.pruneEvents(0n, 2, 100)).toBe(0);
    expect(await store.pruneEvents(0n, 3, 100, "refused")).toBe(27);
    const names = () => store.listEvents(0n, 100).map((e) => e.secrets[0]?.name);
    expect(names()).toEqual(["kept-1", "refused-27", "refused-28", "refused-29", "kept-2"]);
    expect(store.listEvents(0n, 2).map((e) => e.secrets[0]?.name)).toEqual(["kept-1", "refused-27"]);
    expect(store.listEvents(0n, 100, "kept-2").length).toBe(1);

    await store.close();
    store = openLmdbStore({ path: join(dir, "credbroker.mdb") });
    // an event stamped in the past still sorts after every stored one, in either class
    await put(event("after-reopen", new Date(Date.now() - 60_000)), "refused");
    expect(names()).toEqual(["kept-1", "refused-27", "refused-28", "refused-29", "kept-2", "after-reopen"]);
    const sequences = store.listEvents(0n, 100).map((e) => e.sequence);
    expect(new Set(sequences).size).toBe(sequences.length);
  });

  it("stores a batch written twice once, and gives no later event a sequence a written one holds", async () => {
    const replayed = Date.now() * 1000 + 60_000_000;
    const batch = [{ sequence: replayed, auditClass: "main" as const, bytes: toBinary(AuditEventSchema, { ...event("replayed"), sequence: BigInt(replayed) }) }];
    await store.putEvents(batch);
    await store.putEvents(batch);
    expect(store.listEvents(0n, 10).map((e) => [e.secrets[0]?.name, e.sequence])).toEqual([["replayed", BigInt(replayed)]]);
    // an event of now sorts after the one a minute ahead that an earlier process wrote
    await put(event("now"));
    expect(store.listEvents(0n, 10).map((e) => e.secrets[0]?.name)).toEqual(["replayed", "now"]);
  });

  it("lists from a sequence, filtered by name", async () => {
    for (const name of ["a", "b", "a", "c", "a"]) {
      await put(event(name));
    }
    const all = store.listEvents(0n, 100);
    expect(store.listEvents(0n, 100, "a").length).toBe(3);
    expect(store.listEvents(all[2]!.sequence, 100).map((e) => e.secrets[0]?.name)).toEqual(["a", "c", "a"]);
    expect(store.listEvents(0n, 2, "a").length).toBe(2);
  });
});
