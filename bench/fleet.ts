// The fleet rows of `npm run bench` (alone: `npm run bench -- --only fleet`):
// 5, 10 and 20 brokers in fleet mode as child processes on one throwaway
// PostgreSQL (test/support/postgres.ts), measured from outside: how fast a
// change reaches every sidecar, how fast writes fail in an outage, how a
// sidecar catches up on 1,000 missed changes, Inject throughput against a
// standalone broker, and PostgreSQL connections per sidecar.
import { randomBytes } from "node:crypto";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { create, toBinary } from "@bufbuild/protobuf";
import { InjectRequestSchema } from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { postgresAvailable, startPostgres } from "../test/support/postgres.ts";
import { catchUpRows, outageRows } from "./fleet-outage.ts";
import { fmt, latencyRow, printTable, rank, verdict, type FleetRow } from "./fleet-table.ts";
import { adminHeaders, apiKey, servedAt, sleep, startSidecar, wallNow, type FleetSettings, type Sidecar } from "./fleet-sidecars.ts";
import { grpcFrame, h2load, h2loadAvailable, type LoadResult, type LoadTarget } from "./h2load.ts";
import { callCounts } from "./processes.ts";

/** How the fleet rows run. */
export interface FleetBenchOptions {
  /** Fewer changes and requests, one round. */
  quick: boolean;
  /** Alternating h2load rounds of the throughput row. */
  rounds: number;
}

/** The poll interval of each sidecar's Inject while a change propagates: the resolution of the propagation rows. */
const pollMs = 2;
/** The secret every propagation change updates. */
const propagated = "fleet-propagation";

/** Runs the fleet rows and prints their table; false (with the reason printed) when PostgreSQL or h2load is missing. */
export async function fleetBench(options: FleetBenchOptions): Promise<boolean> {
  const availability = postgresAvailable();
  if (!availability.available || !(await h2loadAvailable())) {
    console.error(`fleet rows skipped: ${availability.available ? "h2load is missing (apt-get install nghttp2-client)" : availability.reason}`);
    return false;
  }
  const began = performance.now();
  const loads = [`${fmt(loadavg()[0]!, 2)} at the start`];
  const progress = (what: string) => process.stderr.write(`bench fleet: ${fmt((performance.now() - began) / 1000, 1)} s: ${what}\n`);
  const rows: FleetRow[] = [];
  const notes: string[] = [];
  const work = await mkdtemp(join(tmpdir(), "credbroker-bench-fleet-"));
  const pg = await startPostgres();
  const fleet: Sidecar[] = [];
  let standalone: Sidecar | undefined;
  let db: postgres.Sql | undefined;
  try {
    // commit timestamps, so that propagation is timed from the commit itself (a restart turns them on)
    pg.sql("ALTER SYSTEM SET track_commit_timestamp = on");
    pg.stop();
    pg.start();
    const url = pg.database("fleet");
    db = postgres(url, { max: 1, onnotice: () => undefined, connection: { application_name: "fleet bench" } });
    const settings: FleetSettings = {
      work,
      postgresUrl: url,
      masterKey: randomBytes(32).toString("base64"),
      adminToken: randomBytes(24).toString("base64url"),
    };
    const headers = adminHeaders(settings.adminToken);
    const changes = options.quick ? 30 : 100;

    for (const size of [5, 10, 20]) {
      progress(`starting sidecars ${fleet.length} to ${size - 1}`);
      if (fleet.length === 0) {
        // the first one creates the schema and the keyring; the others join at once, five at a time
        fleet.push(await startSidecar(settings, "sidecar-0"));
        await fleet[0]!.admin.createSecret({ mode: Mode.TEST, name: propagated, credentials: apiKey("initial") }, headers);
      }
      while (fleet.length < size) {
        const batch = Array.from({ length: Math.min(5, size - fleet.length) }, (_, i) => startSidecar(settings, `sidecar-${fleet.length + i}`));
        fleet.push(...(await Promise.all(batch)));
      }
      progress(`propagation, ${size} sidecars, ${changes} changes`);
      rows.push(...(await propagation(fleet, db, settings.adminToken, changes, size, pollMs)));
      if (size === 20) {
        // the pollers' own load (19 callers every 2 ms on the machine the fleet runs on): the same polled 5x less often
        progress(`propagation, ${size} sidecars, ${changes} changes, polled every ${pollMs * 5} ms`);
        rows.push((await propagation(fleet, db, settings.adminToken, changes, size, pollMs * 5))[0]!);
      }
      if (size === 5) {
        progress("Inject throughput, fleet sidecar against a standalone broker");
        standalone = await startSidecar({ ...settings, postgresUrl: undefined }, "standalone");
        rows.push(...(await throughput(fleet, standalone, settings.adminToken, options)));
        await standalone.stop();
        standalone = undefined;
      }
    }
    loads.push(`${fmt(loadavg()[0]!, 2)} at 20 sidecars`);
    rows.push(await connectionsRow(db, fleet.length));
    const rss = (await Promise.all(fleet.map((s) => s.process.rssMiB()))).sort((a, b) => a - b);
    notes.push(
      `at 20 sidecars: broker RSS median ${fmt(rank(rss, 0.5), 1)} MiB, largest ${fmt(rss[rss.length - 1]!, 1)} MiB; ` +
        `memory available ${fmt(await memAvailableMiB())} MiB of ${fmt(totalmem() / 2 ** 20)} MiB`,
    );

    progress("catch-up after 1,000 missed changes");
    rows.push(...(await catchUpRows({ fleet, db, adminToken: settings.adminToken, pollMs, name: propagated })));
    progress("writes during outages of PostgreSQL");
    rows.push(...(await outageRows({ fleet, pg, adminToken: settings.adminToken, pollMs, name: propagated, progress })));
    loads.push(`${fmt(loadavg()[0]!, 2)} at the end`);
  } catch (error) {
    for (const sidecar of fleet) {
      if (sidecar.warnings().length > 0) console.error(`${sidecar.name} logged:\n${sidecar.warnings().join("\n")}`);
    }
    throw error;
  } finally {
    await db?.end({ timeout: 1 }).catch(() => undefined);
    await Promise.all([...fleet.map((s) => s.stop()), standalone?.stop()]);
    const killed = fleet.filter((s) => s.killedOnStop > 0);
    if (killed.length > 0) {
      notes.push(`${killed.length} of ${fleet.length} sidecars had not exited 10 s after SIGTERM and were killed: ${killed.map((s) => s.name).join(", ")}`);
    }
    await pg.close();
    await rm(work, { recursive: true, force: true });
    printTable(rows, notes, loads, { quick: options.quick, pollMs }, (performance.now() - began) / 1000);
  }
  return true;
}

/**
 * `changes` updates of one API key through sidecar 0, one at a time. Each is
 * timed from its commit (PostgreSQL's commit timestamp, the same clock as
 * the bench's) to the moment each sidecar's Inject, polled every `poll` ms
 * over its open HTTP/2 connection from the moment the write returned,
 * answers the new version with the new value.
 */
async function propagation(fleet: Sidecar[], db: postgres.Sql, adminToken: string, changes: number, size: number, poll: number): Promise<FleetRow[]> {
  const headers = adminHeaders(adminToken);
  const writer = fleet[0]!;
  const slowest: number[] = [];
  const each: number[] = [];
  const toReturn: number[] = [];
  const roundTrip: number[] = [];
  for (let k = 0; k < changes; k++) {
    const value = `propagated-${size}-${poll}-${k}`;
    const called = wallNow();
    const updated = await writer.admin.updateSecret({ mode: Mode.TEST, name: propagated, credentials: apiKey(value) }, headers);
    const returned = wallNow();
    const version = updated.secret!.version;
    const served = await Promise.all(fleet.map((sidecar) => servedAt(sidecar, propagated, version, value, poll, returned + 30_000)));
    const [row] = await db<{ ms: number }[]>`
      SELECT (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 AS ms
      FROM credbroker.records WHERE mode = ${Mode.TEST} AND name = ${propagated}`;
    const committed = row!.ms;
    if (!(committed > called && committed < returned)) {
      throw new Error(`the commit timestamp ${committed} is not within the call (${called} to ${returned}): clocks disagree`);
    }
    slowest.push(Math.max(...served) - committed);
    each.push(...served.slice(1).map((at) => at - committed));
    toReturn.push(returned - committed);
    roundTrip.push(returned - called);
    // apart, and out of step with the sidecars' 2 s head check
    await sleep(10 + Math.random() * 40);
  }
  const p99 = rank([...slowest].sort((a, b) => a - b), 0.99);
  const rt = [...roundTrip].sort((a, b) => a - b);
  return [
    latencyRow(
      `propagation, ${size} sidecars: commit to every sidecar serving it (slowest per change)${poll === pollMs ? "" : `, polled every ${poll} ms`}`,
      slowest,
      size === 20 ? `p99 < 1,000 ms (${verdict(p99 < 1000)})` : "",
    ),
    latencyRow(`propagation, ${size} sidecars: commit to each other sidecar serving it`, each, ""),
    latencyRow(
      `propagation, ${size} sidecars: commit to UpdateSecret returning on sidecar 0`,
      toReturn,
      `UpdateSecret round trip p50 ${fmt(rank(rt, 0.5), 1)}, p99 ${fmt(rank(rt, 0.99), 1)} ms`,
    ),
  ];
}

const grpcTarget = (address: string, name: string): LoadTarget => ({
  url: `http://${address}/credbroker.v1.InjectService/Inject`,
  body: grpcFrame(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name }))),
  headers: { "content-type": "application/grpc", te: "trailers" },
});

/**
 * Static gRPC Inject under h2load on fleet sidecar 1 and on a standalone
 * broker, alternating, median run of each kept; the brokers' metrics check
 * that every answer was an ok Inject, and /proc gives their CPU per Inject.
 */
async function throughput(fleet: Sidecar[], standalone: Sidecar, adminToken: string, options: FleetBenchOptions): Promise<FleetRow[]> {
  const headers = adminHeaders(adminToken);
  const name = "fleet-throughput";
  const reader = fleet[1]!;
  await standalone.admin.createSecret({ mode: Mode.TEST, name, credentials: apiKey("throughput") }, headers);
  await fleet[0]!.admin.createSecret({ mode: Mode.TEST, name, credentials: apiKey("throughput") }, headers);
  await servedAt(reader, name, 1n, "throughput", pollMs, wallNow() + 10_000);
  const shape = { requests: options.quick ? 15_000 : 40_000, clients: 8, streams: 16 };
  const warm = { ...shape, requests: Math.min(20_000, shape.requests) };
  const brokers = [reader, standalone];
  const targets = brokers.map((b) => grpcTarget(b.grpcAddress, name));
  const before = await Promise.all(brokers.map((b) => callCounts(b.metricsAddress)));
  const cpuBefore = await Promise.all(brokers.map((b) => b.process.cpuMs()));
  for (const target of targets) await h2load(target, warm);
  const runs: LoadResult[][] = [[], []];
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, target] of targets.entries()) {
      const result = await h2load(target, shape);
      if (result.succeeded !== result.requests) throw new Error(`${target.url}: ${result.requests - result.succeeded} of ${result.requests} requests failed`);
      runs[i]!.push(result);
    }
  }
  const sent = warm.requests + options.rounds * shape.requests;
  const cpuPerInject = await Promise.all(brokers.map(async (b, i) => (((await b.process.cpuMs()) - cpuBefore[i]!) * 1000) / sent));
  for (const [i, b] of brokers.entries()) {
    const after = await callCounts(b.metricsAddress);
    if (after.injectsOk - before[i]!.injectsOk !== sent || after.failures !== before[i]!.failures) {
      throw new Error(`${b.name} counted ${after.injectsOk - before[i]!.injectsOk} ok Injects of ${sent}, and ${after.failures - before[i]!.failures} failures`);
    }
  }
  const [onFleet, alone] = runs.map((list) => {
    const sorted = [...list].sort((a, b) => a.reqPerSec - b.reqPerSec);
    return sorted[Math.floor(sorted.length / 2)]!;
  }) as [LoadResult, LoadResult];
  const ratio = onFleet.reqPerSec / alone.reqPerSec;
  const load = `h2load -c${shape.clients} -m${shape.streams}, ${fmt(shape.requests)} a run, ${options.rounds} round(s)`;
  return [
    [`Inject static, gRPC, standalone broker (baseline; ${load})`, `${fmt(alone.reqPerSec)} req/s`, fmt(alone.p50Ms, 2), fmt(alone.p99Ms, 2), "", "", `${fmt(cpuPerInject[1]!)} us CPU per Inject`],
    [
      `Inject static, gRPC, fleet sidecar of 5 (${load})`,
      `${fmt(onFleet.reqPerSec)} req/s`,
      fmt(onFleet.p50Ms, 2),
      fmt(onFleet.p99Ms, 2),
      "",
      `${fmt(ratio, 2)}x`,
      `>= 0.95x standalone (${verdict(ratio >= 0.95)}); ${fmt(cpuPerInject[0]!)} us CPU per Inject`,
    ],
  ];
}

/** PostgreSQL connections of each sidecar, counted from pg_stat_activity by application_name (`credbroker <instance id>`). */
async function connectionsRow(db: postgres.Sql, size: number): Promise<FleetRow> {
  const counted = await db<{ name: string; n: number; idle: number }[]>`
    SELECT application_name AS name, count(*)::int AS n, count(*) FILTER (WHERE state = 'idle')::int AS idle
    FROM pg_stat_activity WHERE application_name LIKE 'credbroker %' GROUP BY 1`;
  const per = counted.map((c) => c.n).sort((a, b) => a - b);
  const total = per.reduce((a, b) => a + b, 0);
  return [
    `PostgreSQL connections per sidecar, ${size} sidecars, after the propagation runs`,
    `${fmt(rank(per, 0.5))} (median)`,
    "",
    "",
    "",
    "",
    `min ${per[0] ?? 0}, max ${per[per.length - 1] ?? 0}; ${total} in all from ${counted.length} sidecars, ${counted.reduce((a, c) => a + c.idle, 0)} idle`,
  ];
}

async function memAvailableMiB(): Promise<number> {
  const info = await readFile("/proc/meminfo", "utf8");
  return Number(/MemAvailable:\s+(\d+) kB/.exec(info)?.[1] ?? Number.NaN) / 1024;
}
