import { Code, ConnectError } from "@connectrpc/connect";
import type postgres from "postgres";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import type { RunningPostgres } from "../test/support/postgres.ts";
import { adminHeaders, apiKey, injected, servedAt, sleep, wallNow, type Sidecar } from "./fleet-sidecars.ts";
import { fmt, latencyRow, verdict, type FleetRow } from "./fleet-table.ts";

/** What the catch-up and outage rows run on. */
export interface FaultOptions {
  /** The running fleet; sidecar 0 writes, the last one is the one that falls behind. */
  fleet: Sidecar[];
  adminToken: string;
  /** The Inject poll interval. */
  pollMs: number;
  /** An API key secret the fleet holds. */
  name: string;
}

const missed = 1000;
const writers = 16;

/** Creates `count` API keys through `writer`, `writers` calls at a time; each key's value is its name. */
async function createMany(writer: Sidecar, prefix: string, count: number, adminToken: string): Promise<void> {
  let next = 0;
  const work = async () => {
    while (next < count) {
      const name = `${prefix}-${String(next++).padStart(4, "0")}`;
      await writer.admin.createSecret({ mode: Mode.TEST, name, credentials: apiKey(name) }, adminHeaders(adminToken));
    }
  };
  await Promise.all(Array.from({ length: writers }, work));
}

/** How many of the `count` keys `createMany` made the sidecar serves, 16 Injects at a time. */
async function servedCount(sidecar: Sidecar, prefix: string, count: number): Promise<number> {
  let next = 0;
  let served = 0;
  const work = async () => {
    while (next < count) {
      const name = `${prefix}-${String(next++).padStart(4, "0")}`;
      const answer = await injected(sidecar, name).catch(() => undefined);
      served += answer?.version === 1n && answer.value === name ? 1 : 0;
    }
  };
  await Promise.all(Array.from({ length: 16 }, work));
  return served;
}

/** The last change committed (the highest revision), which a replica applying in revision order serves last. */
async function lastChange(db: postgres.Sql): Promise<{ name: string; version: bigint }> {
  const [row] = await db<{ name: string; version: string }[]>`SELECT name, version::text AS version FROM credbroker.records ORDER BY revision DESC LIMIT 1`;
  return { name: row!.name, version: BigInt(row!.version) };
}

/**
 * Catch-up of the last sidecar after 1,000 missed changes (creates, so 1,000
 * records to apply): stopped (SIGTERM) and started again, timed from spawn
 * to its Inject serving the last change, beside a restart with nothing
 * missed; and frozen (SIGSTOP, its connections left open), timed from
 * SIGCONT. Each time, every one of the 1,000 is checked served.
 */
export async function catchUpRows(options: FaultOptions & { db: postgres.Sql }): Promise<FleetRow[]> {
  const { fleet, db, adminToken, pollMs } = options;
  const writer = fleet[0]!;
  const lagging = fleet[fleet.length - 1]!;
  const rows: FleetRow[] = [];
  const current = await injected(writer, options.name);

  await lagging.stop();
  let spawned = wallNow();
  let running = await lagging.restart();
  const baseline = (await servedAt(lagging, options.name, current.version, current.value!, pollMs, wallNow() + 30_000)) - spawned;
  rows.push([`sidecar restart with nothing missed: spawn to serving (${fleet.length} sidecars)`, `${fmt(baseline)} ms`, "", "", "", "", `spawn to listening ${fmt(running.startupMs)} ms`]);

  await lagging.stop();
  const began = wallNow();
  await createMany(writer, "stopped", missed, adminToken);
  const createMs = wallNow() - began;
  rows.push([
    `${fmt(missed)} creates through sidecar 0, ${writers} at a time, ${fleet.length - 1} sidecars following`,
    `${fmt(createMs)} ms`,
    "",
    "",
    "",
    "",
    `${fmt((missed * 1000) / createMs)} writes/s`,
  ]);
  let last = await lastChange(db);
  spawned = wallNow();
  running = await lagging.restart();
  // what it serves the moment it listens: its replica is meant to be up to date by then
  const atListening = await injected(lagging, last.name);
  const restarted = (await servedAt(lagging, last.name, last.version, last.name, pollMs, wallNow() + 60_000)) - spawned;
  let served = await servedCount(lagging, "stopped", missed);
  rows.push([
    `catch-up, sidecar stopped during ${fmt(missed)} changes: spawn to serving the last`,
    `${fmt(restarted)} ms`,
    "",
    "",
    "",
    `${fmt(restarted / baseline, 2)}x`,
    `of a restart with nothing missed; listening after ${fmt(running.startupMs)} ms, the last change ${atListening.version === last.version ? "served" : "NOT served"} then; ${served} of ${fmt(missed)} served`,
  ]);

  const pid = lagging.process.child.pid!;
  process.kill(pid, "SIGSTOP");
  try {
    await createMany(writer, "frozen", missed, adminToken);
    last = await lastChange(db);
    // the replica's 2 s head check and NOTIFY's delivery both wait for it to run again
    await sleep(500);
  } finally {
    process.kill(pid, "SIGCONT");
  }
  const resumed = wallNow();
  const caughtUp = (await servedAt(lagging, last.name, last.version, last.name, pollMs, wallNow() + 60_000)) - resumed;
  served = await servedCount(lagging, "frozen", missed);
  rows.push([
    `catch-up, sidecar frozen (SIGSTOP) during ${fmt(missed)} changes: SIGCONT to serving the last`,
    `${fmt(caughtUp)} ms`,
    "",
    "",
    "",
    "",
    `${served} of ${fmt(missed)} served`,
  ]);
  return rows;
}

/** One write's outcome: its call time, its code, and for an ok one what it wrote. */
interface Outcome {
  ms: number;
  returnedAt: number;
  code: string;
  message?: string;
  version: bigint;
  value: string;
}

/**
 * Writes during an outage of PostgreSQL on sidecar 0, crash-like (`pg_ctl
 * stop -m immediate`) and hung (SIGSTOP on every PostgreSQL process): the
 * time from the outage to the first write's answer, and each write's own
 * call time; Inject on every sidecar meanwhile; then, with PostgreSQL back,
 * the time to the first ok write and to every sidecar serving it.
 */
export async function outageRows(options: FaultOptions & { pg: RunningPostgres; progress: (what: string) => void }): Promise<FleetRow[]> {
  const { fleet, pg, adminToken, pollMs, name, progress } = options;
  const writer = fleet[0]!;
  let n = 0;
  const write = async (): Promise<Outcome> => {
    const value = `outage-${n++}`;
    const called = wallNow();
    try {
      const answer = await writer.admin.updateSecret({ mode: Mode.TEST, name, credentials: apiKey(value) }, { ...adminHeaders(adminToken), timeoutMs: 20_000 });
      return { ms: wallNow() - called, returnedAt: wallNow(), code: "OK", version: answer.secret!.version, value };
    } catch (error) {
      const failure = ConnectError.from(error);
      return { ms: wallNow() - called, returnedAt: wallNow(), code: Code[failure.code], message: failure.rawMessage, version: 0n, value };
    }
  };
  const rows: FleetRow[] = [];
  for (const outage of [
    { label: "crash (pg_ctl stop -m immediate)", begin: () => pg.stop(), end: () => pg.start(), writes: 3_000 },
    { label: "hang (SIGSTOP on PostgreSQL)", begin: () => pg.pause(), end: () => pg.resume(), writes: 8_000 },
  ]) {
    progress(`PostgreSQL ${outage.label}`);
    const began = wallNow();
    outage.begin();
    const outcomes = [await write()];
    const firstAnswer = wallNow() - began;
    // more writes, one after another, for a few seconds of the outage
    while (wallNow() - began < outage.writes) outcomes.push(await write());
    const injects = await Promise.all(fleet.map((s) => injected(s, name).then(() => true, () => false)));
    progress(`${outage.label} over after ${outcomes.length} writes`);
    const ended = wallNow();
    outage.end();
    let ok: Outcome;
    while ((ok = await write()).code !== "OK") {
      if (wallNow() - ended > 60_000) {
        throw new Error(`writes still fail 60 s after the ${outage.label} ended: ${ok.code}: ${ok.message}`);
      }
      await sleep(20);
    }
    const recovered = ok.returnedAt - ended;
    progress(`the first ok write after ${fmt(recovered)} ms`);
    const served = await Promise.all(fleet.map((s) => servedAt(s, name, ok.version, ok.value, pollMs, wallNow() + 30_000)));
    const codes = new Map<string, number>();
    for (const o of outcomes) codes.set(o.code, (codes.get(o.code) ?? 0) + 1);
    const allUnavailable = outcomes.every((o) => o.code === "Unavailable");
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    const answered = latencyRow(
      `write during a PostgreSQL ${outage.label}: each write's call`,
      outcomes.map((o) => o.ms),
      `< 5,000 ms (${verdict(allUnavailable && slowest < 5000)}); ${[...codes].map(([code, count]) => `${code} x${count}`).join(", ")}`,
    );
    rows.push(
      [
        `write during a PostgreSQL ${outage.label}: outage to the first write answering`,
        `${fmt(firstAnswer)} ms`,
        "",
        "",
        "",
        "",
        `< 5,000 ms (${verdict(outcomes[0]!.code === "Unavailable" && firstAnswer < 5000)}); ${outcomes[0]!.code}; Inject meanwhile on ${injects.filter(Boolean).length} of ${fleet.length} sidecars`,
      ],
      answered,
      [
        `PostgreSQL back after the ${outage.label.replace(/ \(.*/, "")}: to the first ok write, then to all ${fleet.length} serving it`,
        `${fmt(recovered)} ms`,
        "",
        "",
        "",
        "",
        `all serving ${fmt(Math.max(...served) - ok.returnedAt)} ms after it returned`,
      ],
    );
  }
  return rows;
}
