/**
 * The audit log's segment files, with a real LMDB store in a temp dir: their
 * modes and names, rotation and removal once moved, the replay of what an
 * earlier process left (a torn last record dropped), sequences that stay
 * unique across it, the refusal when the store stops taking events, and
 * the grouped appends of one event-loop turn (one write, then the answer).
 */
import { readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openAuditLog, type AuditLog } from "../../src/audit/audit-log.ts";
import { readRecords } from "../../src/audit/segment-record.ts";
import type { AuditEventFields } from "../../src/audit/event-encoding.ts";
import { CallerKind } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import type { SecretStore } from "../../src/store/secret-store.ts";

let dir: string;
const opened: { store: SecretStore; log: AuditLog }[] = [];
let lines: string[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString("utf8"));
      callback();
    },
  }),
);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "credbroker-segments-"));
  lines = [];
});
afterEach(async () => {
  for (const { store, log } of opened.splice(0)) {
    await log.close();
    await store.close();
  }
  await rm(dir, { recursive: true, force: true });
});

/** A store and an audit log over `dataDir`, whose mover runs only when told (flush, close). */
async function open(dataDir: string, segmentBytes = 1024 * 1024, wrap = (store: SecretStore) => store) {
  await mkdir(dataDir, { recursive: true });
  const store = wrap(openLmdbStore({ path: join(dataDir, "credbroker.mdb") }));
  const log = await openAuditLog({ directory: join(dataDir, "audit"), store, logger, segmentBytes, moveIntervalMs: 3_600_000 });
  const entry = { store, log };
  opened.push(entry);
  return entry;
}

async function closeAll(): Promise<void> {
  for (const { store, log } of opened.splice(0)) {
    await log.close();
    await store.close();
  }
}

function fields(requestId: string, at = Date.now()): AuditEventFields {
  return {
    time: { seconds: BigInt(Math.floor(at / 1000)), nanos: (at % 1000) * 1_000_000 },
    method: "credbroker.v1.InjectService/Inject",
    mode: Mode.TEST,
    secrets: [{ name: "s", version: 1n }],
    code: "ok",
    caller: { kind: CallerKind.NONE, peerAddress: "127.0.0.1:1", tlsSubject: "" },
    requestId,
  };
}

const segmentsIn = async (dataDir: string) => (await readdir(join(dataDir, "audit"))).filter((name) => name.endsWith(".log")).sort();
const requestIds = (log: AuditLog) => log.listEvents(0n, 1000).map((e) => e.requestId);

describe("audit segment files", () => {
  it("are 0600 in a 0700 directory, named by this process, rotate at their size and go once their events are moved", async () => {
    const { log, store } = await open(dir, 1024);
    for (let i = 0; i < 20; i++) {
      log.append(fields(`e${i}`), i % 5 === 0 ? "refused" : "main");
    }
    const written = await segmentsIn(dir);
    expect(written.length).toBeGreaterThan(2);
    expect((await stat(join(dir, "audit"))).mode & 0o777).toBe(0o700);
    for (const name of written) {
      expect(name).toMatch(new RegExp(`^${process.pid}-\\d+-\\d+\\.log$`));
      const file = await stat(join(dir, "audit", name));
      expect(file.mode & 0o777).toBe(0o600);
      expect(file.size).toBe(1024);
    }
    // not moved yet, listed all the same, in order
    expect(store.listEvents(0n, 100)).toEqual([]);
    expect(requestIds(log)).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
    await log.flush();
    expect(store.listEvents(0n, 100).map((e) => e.requestId)).toEqual(Array.from({ length: 20 }, (_, i) => `e${i}`));
    // only the segment still written to is left
    expect(await segmentsIn(dir)).toEqual([written.at(-1)]);
    await closeAll();
    expect(await segmentsIn(dir)).toEqual([]);
  });

  it("replays what an earlier process left, dropping a torn last record, once, with sequences above every replayed one", async () => {
    const earlier = join(dir, "earlier");
    const { log: first } = await open(earlier);
    // stamped a minute ahead, as by a clock that was later set back
    const ahead = Date.now() + 60_000;
    for (let i = 0; i < 5; i++) {
      first.append(fields(`left-${i}`, ahead), "main");
    }
    const [segment] = await segmentsIn(earlier);
    // what a crash leaves: the file as written, copied before any move; its last record torn
    const later = join(dir, "later");
    await mkdir(join(later, "audit"), { recursive: true, mode: 0o700 });
    const bytes = await readFile(join(earlier, "audit", segment!));
    const end = bytes.findLastIndex((byte) => byte !== 0);
    bytes[end - 3] = bytes[end - 3]! ^ 0xff;
    await writeFile(join(later, "audit", segment!), bytes, { mode: 0o600 });

    const { log: second } = await open(later);
    expect(requestIds(second)).toEqual(["left-0", "left-1", "left-2", "left-3"]);
    expect(lines.join("")).toContain("audit segment ends in a torn record");
    expect(await segmentsIn(later)).not.toContain(segment);
    second.append(fields("after-replay"), "main");
    const events = second.listEvents(0n, 100);
    expect(events.at(-1)?.requestId).toBe("after-replay");
    expect(events.at(-1)!.sequence).toBeGreaterThan(events.at(-2)!.sequence);
    await closeAll();

    // the same leftover again (a crash before its removal reached the disk): stored once
    await writeFile(join(later, "audit", segment!), bytes, { mode: 0o600 });
    const { log: third } = await open(later);
    expect(requestIds(third)).toEqual(["left-0", "left-1", "left-2", "left-3", "after-replay"]);
  });

  it("leaves the segment of a process that still runs to that process", async () => {
    await mkdir(join(dir, "audit"), { recursive: true });
    // pid 1 always runs; its segment holds one whole record (copied from a log of ours)
    const source = join(dir, "source");
    const { log } = await open(source);
    log.append(fields("theirs"), "main");
    const [segment] = await segmentsIn(source);
    const theirs = `1-${Date.now()}-1.log`;
    await copyFile(join(source, "audit", segment!), join(dir, "audit", theirs));
    await chmod(join(dir, "audit", theirs), 0o600);
    const { log: ours } = await open(dir);
    expect(requestIds(ours)).toEqual([]);
    expect(await segmentsIn(dir)).toContain(theirs);
  });

  it("refuses events once the store has stopped taking them for too long, and takes them again when it does", async () => {
    const refuse = { on: true };
    const { log } = await open(dir, 1024 * 1024, (store) => ({
      ...store,
      putEvents: (events) => (refuse.on ? Promise.reject(new Error("store refuses")) : store.putEvents(events)),
    }));
    let refusal: unknown;
    let appended = 0;
    for (; appended < 200_000 && refusal === undefined; appended++) {
      try {
        log.append(fields(`e${appended}`), "main");
      } catch (error) {
        refusal = error;
      }
    }
    expect(refusal).toMatchObject({ code: "ERR_UNAVAILABLE" });
    expect(appended - 1).toBe(100_000);
    refuse.on = false;
    await log.flush();
    log.append(fields("again"), "main");
    expect(log.listEvents(0n, 1).map((e) => e.requestId)).toEqual(["e0"]);
  });

  it("moves a steady trickle of events in a commit per interval, not in a commit after each commit", async () => {
    const dataDir = join(dir, "trickle");
    await mkdir(dataDir, { recursive: true });
    const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
    const batches: number[] = [];
    // each move takes 10 ms, as a commit's syncs can: the events of a serial caller keep arriving meanwhile
    const slow: SecretStore = {
      ...store,
      putEvents: async (events) => {
        batches.push(events.length);
        await new Promise((resolve) => setTimeout(resolve, 10));
        return store.putEvents(events);
      },
    };
    const log = await openAuditLog({ directory: join(dataDir, "audit"), store: slow, logger, moveIntervalMs: 100 });
    opened.push({ store, log });
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < 600) {
      await log.appendGrouped(fields(`t${sent++}`), "main");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const elapsed = performance.now() - started;
    const duringTrickle = batches.length;
    await log.flush();
    // one pass per 100 ms interval (a late timer makes fewer), never one every 10 ms
    expect(duringTrickle).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 1);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(sent);
    expect(store.listEvents(0n, sent + 1).map((event) => event.requestId)).toEqual(Array.from({ length: sent }, (_, i) => `t${i}`));
  });

  it("writes the grouped events of one turn together, each call's promise resolving once they are the OS's; a group that cannot be written refuses each of its calls", async () => {
    const { log } = await open(dir);
    const [segment] = await segmentsIn(dir);
    // read synchronously: the turn must not end while the file is read
    const recordsOnDisk = () => readRecords(readFileSync(join(dir, "audit", segment!))).records.length;
    const waits = Array.from({ length: 50 }, (_, i) => log.appendGrouped(fields(`g${i}`), "main"));
    // one promise for the turn's group, and nothing written while the turn runs
    expect(new Set(waits).size).toBe(1);
    expect(recordsOnDisk()).toBe(0);
    await Promise.all(waits);
    expect(recordsOnDisk()).toBe(50);
    expect(requestIds(log)).toEqual(Array.from({ length: 50 }, (_, i) => `g${i}`));

    // a group written by a synchronous append goes first, in sequence order
    const grouped = log.appendGrouped(fields("grouped"), "main");
    log.append(fields("at-once"), "main");
    expect(recordsOnDisk()).toBe(52);
    await grouped;
    expect(requestIds(log).slice(-2)).toEqual(["grouped", "at-once"]);

    // a group still in its turn at close is written by close; one the writer refuses (the log closed) rejects every call of it
    const atClose = [log.appendGrouped(fields("at-close-1"), "main"), log.appendGrouped(fields("at-close-2"), "main")];
    await closeAll();
    expect((await Promise.allSettled(atClose)).map((o) => o.status)).toEqual(["fulfilled", "fulfilled"]);
    const late = [log.appendGrouped(fields("late-1"), "main"), log.appendGrouped(fields("late-2"), "main")];
    expect((await Promise.allSettled(late)).map((o) => o.status)).toEqual(["rejected", "rejected"]);
  });
});
