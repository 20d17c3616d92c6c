// npm run bench [-- --quick] [-- --rounds N] [-- --only list-secrets|fleet]: the
// Inject hot path against no-op baselines measured in the same run, OAuth2
// token caching, and figures at 100,000 secrets (--only list-secrets: the
// ListSecrets row alone, N passes), then the fleet rows (bench/fleet.ts; --only
// fleet: those alone). Prints a table; see README "Performance".
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, OAuth2TokenBinding } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { createGrpcJsClient } from "../test/support/grpc-client.ts";
import { grpcFrame, h2load, h2loadAvailable, type LoadResult, type LoadTarget } from "./h2load.ts";
import { listPagesOnly, listPagesRows } from "./list-pages.ts";
import { callCounts, freePort, startBroker, startNoop, type Running } from "./processes.ts";
import { mixedCredentials, secretName, seedDataDir, seedOverApi } from "./seed.ts";
import { startTokenEndpoint } from "./token-endpoint.ts";
import { dpopProofMicros } from "./dpop-proof.ts";
import { openLmdbStore } from "../src/store/lmdb-store.ts";
import { fleetBench } from "./fleet.ts";

const quick = process.argv.includes("--quick");
const roundsFlag = process.argv.indexOf("--rounds");
const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : quick ? 1 : 3;
const requests = quick ? 15_000 : 100_000;
const load = { requests, clients: 8, streams: 16 };
/** One runner calling one Inject at a time: latency, not throughput. */
const serialLoad = { requests: quick ? 3_000 : 20_000, clients: 1, streams: 1 };
const bigCount = 100_000;
const onlyFlag = process.argv.indexOf("--only");
const listOnly = onlyFlag > 0 && process.argv[onlyFlag + 1] === "list-secrets";

const rows: string[][] = [];
const progress = (what: string) => process.stderr.write(`bench: ${what}\n`);
const notes: string[] = [];
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

if (!(await h2loadAvailable())) {
  console.error("h2load is missing: install Debian's nghttp2-client (apt-get install nghttp2-client)");
  process.exit(1);
}
if (listOnly) {
  rows.push(...(await listPagesOnly(bigCount, rounds)));
  printTable();
  process.exit(0);
}
if (onlyFlag > 0 && process.argv[onlyFlag + 1] === "fleet") {
  process.exit((await fleetBench({ quick, rounds })) ? 0 : 1);
}

/** A load run with the server's CPU time (user + system) per request, the median of its rounds: less disturbed by a busy machine than req/s. */
type Measured = LoadResult & { cpuUs: number };

/** A row of a load run; with `cpuBaseline`, its CPU per request is also given as a ratio to that run's. */
function row(name: string, result: Measured, ratio: number | undefined, goal: string, cpuBaseline?: Measured) {
  const cpu = `${fmt(result.cpuUs)} us CPU per request${cpuBaseline === undefined ? "" : ` (${fmt(result.cpuUs / cpuBaseline.cpuUs, 2)}x the baseline's ${fmt(cpuBaseline.cpuUs)})`}`;
  rows.push([
    name,
    fmt(result.reqPerSec),
    fmt(result.p50Ms, 2),
    fmt(result.p99Ms, 2),
    ratio === undefined ? "" : `${fmt(ratio, 2)}x`,
    goal === "" ? cpu : `${goal}; ${cpu}`,
  ]);
}

/** Injects sent to the broker by h2load, for the audit row. */
let sentInjects = 0;
const toBroker = (target: LoadTarget) => target.url.includes(`//${grpcAddress}/`) || target.url.includes(`//${httpAddress}/`);

/** A target and the process serving it, whose CPU time each run reads. */
interface Served {
  readonly target: LoadTarget;
  readonly server: Running;
}

/** Runs each target once per round, alternating, and keeps each target's median run, with the median of its CPU per request. */
async function alternate(targets: Served[], shape = load): Promise<Measured[]> {
  for (const { target } of targets) {
    const warm = await h2load(target, { ...shape, requests: Math.min(50_000, shape.requests) }); // warm-up, JIT included
    sentInjects += toBroker(target) ? warm.requests : 0;
  }
  const runs: LoadResult[][] = targets.map(() => []);
  const cpus: number[][] = targets.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, { target, server }] of targets.entries()) {
      const cpuBefore = await server.cpuMs();
      const result = await h2load(target, shape);
      if (result.succeeded !== result.requests) {
        throw new Error(`${target.url}: ${result.requests - result.succeeded} of ${result.requests} requests failed`);
      }
      cpus[i]!.push((((await server.cpuMs()) - cpuBefore) * 1000) / result.requests);
      sentInjects += toBroker(target) ? result.requests : 0;
      runs[i]!.push(result);
    }
  }
  return runs.map((list, i) => {
    const m = median(list.map((r) => r.reqPerSec));
    return { ...list.find((r) => r.reqPerSec === m)!, cpuUs: median(cpus[i]!) };
  });
}

const on = (server: Running, target: LoadTarget): Served => ({ target, server });
const grpcTarget = (address: string, name: string, target?: { method: string; url: string }): LoadTarget => ({
  url: `http://${address}/credbroker.v1.InjectService/Inject`,
  body: grpcFrame(toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name, ...(target === undefined ? {} : { target }) }))),
  headers: { "content-type": "application/grpc", te: "trailers" },
});
const connectTarget = (address: string, name: string): LoadTarget => ({
  url: `http://${address}/credbroker.v1.InjectService/Inject`,
  body: toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name })),
  headers: { "content-type": "application/proto" },
});

const work = await mkdtemp(join(tmpdir(), "credbroker-bench-"));
const dataDir = join(work, "data");
const masterKey = new Uint8Array(randomBytes(32));
const adminToken = randomBytes(24).toString("base64url");
const tokens = await startTokenEndpoint();
const [grpcPort, httpPort, metricsPort, noopGrpcPort, noopConnectPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
const grpcAddress = `127.0.0.1:${grpcPort}`;
const httpAddress = `127.0.0.1:${httpPort}`;
const metricsAddress = `127.0.0.1:${metricsPort}`;
const brokerArgs = ["--data-dir", dataDir, "--listen", grpcAddress, "--http-listen", httpAddress, "--metrics-listen", metricsAddress];
/** The audit retention cap of the bench's broker (the default, said explicitly so the audit row can tell when it was reached). */
const auditMaxEvents = 1_000_000;
const brokerEnv = (extra: Record<string, string> = {}) => ({
  CREDBROKER_MASTER_KEY: Buffer.from(masterKey).toString("base64"),
  CREDBROKER_ADMIN_TOKEN: adminToken,
  CREDBROKER_AUDIT_MAX_EVENTS: String(auditMaxEvents),
  ...extra,
});
const running: Running[] = [];
let noopGrpcRss: () => Promise<number> = async () => Number.NaN;
/** Runs the work and checks that every h2load answer was a call the broker counted as an ok Inject (grpc-status 0, not only HTTP 200). */
const checked = async (work: () => Promise<Measured[]>, brokerRuns: number[], shape = load) => {
  const before = await callCounts(metricsAddress);
  const results = await work();
  const after = await callCounts(metricsAddress);
  const expected = brokerRuns.length * shape.requests * rounds + brokerRuns.length * Math.min(50_000, shape.requests);
  if (after.injectsOk - before.injectsOk !== expected || after.failures !== before.failures) {
    throw new Error(`the broker counted ${after.injectsOk - before.injectsOk} ok Injects of ${expected}, and ${after.failures - before.failures} failures`);
  }
  return results;
};

try {
  // --- 10 secrets of mixed types
  progress("starting the broker and seeding 10 secrets");
  let broker = await startBroker(brokerArgs, brokerEnv(), [grpcPort!, httpPort!]);
  running.push(broker);
  const small = Array.from({ length: 10 }, (_, i) => ({ name: secretName(i), credentials: mixedCredentials(i, tokens.url) }));
  await seedOverApi(httpAddress, adminToken, small);
  const staticName = secretName(0); // an API key
  const oauthName = secretName(5); // OAuth2 client credentials
  const inject = createClient(InjectService, createConnectTransport({ baseUrl: `http://${httpAddress}`, httpVersion: "2" }));
  const responseFile = join(work, "response.bin");
  await writeFile(responseFile, toBinary(InjectResponseSchema, await inject.inject({ mode: Mode.TEST, name: staticName })));
  const noopGrpc = await startNoop("grpc", noopGrpcPort, responseFile);
  noopGrpcRss = () => noopGrpc.rssMiB();
  const noopConnect = await startNoop("connect", noopConnectPort, responseFile);
  running.push(noopGrpc, noopConnect);
  await inject.inject({ mode: Mode.TEST, name: oauthName }); // fetches and caches the token
  // the same OAuth2 secret asking for DPoP: the token is cached alike, each Inject signs a fresh proof
  const dpopName = "dpop-oauth2";
  const dpopTarget = { method: "GET", url: "https://api.example/v1/orders" };
  await seedOverApi(httpAddress, adminToken, [
    {
      name: dpopName,
      credentials: { kind: { case: "oauth2ClientCredentials", value: { clientId: "bench", clientSecret: "bench-dpop", tokenUrl: tokens.url, tokenBinding: OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP } } },
    },
  ]);
  await inject.inject({ mode: Mode.TEST, name: dpopName, target: dpopTarget });

  progress("Inject against the baselines");
  const [grpcStatic, grpcNoop, connectStatic, connectNoop, grpcOAuth, grpcDpop] = await checked(
    () =>
      alternate([
        on(broker, grpcTarget(grpcAddress, staticName)),
        on(noopGrpc, grpcTarget(`127.0.0.1:${noopGrpcPort}`, staticName)),
        on(broker, connectTarget(httpAddress, staticName)),
        on(noopConnect, connectTarget(`127.0.0.1:${noopConnectPort}`, staticName)),
        on(broker, grpcTarget(grpcAddress, oauthName)),
        on(broker, grpcTarget(grpcAddress, dpopName, dpopTarget)),
      ]),
    [0, 2, 4, 5],
  );
  progress("serial Inject against the grpc-js baseline (-c1 -m1)");
  const [serialStatic, serialNoop] = await checked(
    () => alternate([on(broker, grpcTarget(grpcAddress, staticName)), on(noopGrpc, grpcTarget(`127.0.0.1:${noopGrpcPort}`, staticName))], serialLoad),
    [0],
    serialLoad,
  );
  row("no-op @grpc/grpc-js (baseline)", grpcNoop!, undefined, "");
  row("Inject static, gRPC listener", grpcStatic!, grpcStatic!.reqPerSec / grpcNoop!.reqPerSec, ">= 0.80x no-op grpc-js (goal 0.95x)", grpcNoop);
  rows.push(["p99 of Inject static, gRPC, to the no-op's", "", "", "", `${fmt(grpcStatic!.p99Ms / grpcNoop!.p99Ms, 2)}x`, "<= 1.50x"]);
  row("no-op @grpc/grpc-js, serial -c1 -m1 (baseline)", serialNoop!, undefined, "");
  row("Inject static, gRPC listener, serial -c1 -m1", serialStatic!, serialStatic!.reqPerSec / serialNoop!.reqPerSec, ">= 0.60x no-op grpc-js (goal 0.80x)", serialNoop);
  row("no-op connect-node, Connect binary (baseline)", connectNoop!, undefined, "");
  row("Inject static, Connect binary, HTTP listener", connectStatic!, connectStatic!.reqPerSec / connectNoop!.reqPerSec, ">= 0.80x no-op connect-node", connectNoop);
  row("Inject OAuth2 warm, gRPC listener", grpcOAuth!, grpcOAuth!.reqPerSec / grpcStatic!.reqPerSec, ">= 0.95x static Inject", grpcStatic);
  row("Inject OAuth2 DPoP warm (a fresh ES256 proof each), gRPC", grpcDpop!, grpcDpop!.reqPerSec / grpcOAuth!.reqPerSec, "ratio to the bearer OAuth2 Inject", grpcOAuth);
  rows.push(["DPoP proof signing alone, ES256, in process", "", "", "", "", `${fmt(dpopProofMicros(), 1)} us per proof`]);
  const [brokerRss, noopRss] = [await broker.rssMiB(), await noopGrpc.rssMiB()];
  const [brokerParts, noopParts] = [await broker.rssPartsMiB(), await noopGrpc.rssPartsMiB()];
  const parts = ({ anon, file }: { anon: number; file: number }) => `anon ${fmt(anon, 1)} MiB, mapped files ${fmt(file, 1)} MiB`;
  rows.push(["broker RSS after the Inject runs", `${fmt(brokerRss, 1)} MiB`, "", "", `${fmt(brokerRss / noopRss, 2)}x`, `<= 1.30x the no-op's; ${parts(brokerParts)}`]);
  rows.push(["no-op grpc-js RSS after its runs (baseline)", `${fmt(noopRss, 1)} MiB`, "", "", "", parts(noopParts)]);
  rows.push(["broker anonymous RSS (heaps, no mapped files) to the no-op's", "", "", "", `${fmt(brokerParts.anon / noopParts.anon, 2)}x`, "the mapped part is LMDB's map, growing with the audit events kept"]);

  progress("1,000 concurrent cold OAuth2 Injects");
  const cold = "cold-oauth2";
  await seedOverApi(httpAddress, adminToken, [{ name: cold, credentials: mixedCredentials(5, tokens.url) }]);
  const client = createGrpcJsClient(InjectService, grpcAddress);
  const tokenRequestsBefore = tokens.requests();
  const answers = await Promise.all(
    Array.from({ length: 1000 }, () => client.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: cold })),
  );
  client.close();
  const failedCold = answers.filter((a) => !a.ok).length;
  sentInjects += answers.length;
  rows.push(["token requests for 1,000 concurrent cold OAuth2 Injects", String(tokens.requests() - tokenRequestsBefore), "", "", "", `goal 1 (${failedCold} failed)`]);

  // the same broker with the material cache off, and with the request log off
  for (const [label, env] of [
    ["Inject static, gRPC, material cache off", { CREDBROKER_MATERIAL_CACHE_SIZE: "0" }],
    ["Inject static, gRPC, a log line per Inject (LOG_LEVEL=debug)", { LOG_LEVEL: "debug" }],
  ] as const) {
    progress(label);
    await broker.stop();
    broker = await startBroker(brokerArgs, brokerEnv(env), [grpcPort!, httpPort!]);
    running.push(broker);
    await inject.inject({ mode: Mode.TEST, name: staticName });
    const [variant, baseline] = await alternate([on(broker, grpcTarget(grpcAddress, staticName)), on(noopGrpc, grpcTarget(`127.0.0.1:${noopGrpcPort}`, staticName))]);
    row(label, variant!, variant!.reqPerSec / baseline!.reqPerSec, "ratio to no-op grpc-js, same run", baseline);
  }
  await broker.stop();
  // every Inject above was answered only after its audit event committed (group commit): the
  // Inject rows carry that cost; this row shows the events are there, one per call
  const auditStore = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
  const auditEvents = auditStore.eventCount();
  await auditStore.close();
  const auditNote =
    auditEvents >= auditMaxEvents
      ? `retention cap ${fmt(auditMaxEvents)} reached: the oldest were pruned, so these are the kept events of ${fmt(sentInjects)} Injects sent`
      : `${fmt(auditEvents / sentInjects, 3)} per Inject sent by h2load and the cold run`;
  rows.push(["audit events kept after the runs above (Injects, admin calls)", fmt(auditEvents), "", "", "", auditNote]);

  if (!quick) {
    // --- 100,000 secrets
    progress(`seeding ${fmt(bigCount)} secrets`);
    const seeded = performance.now();
    await seedDataDir(dataDir, masterKey, small.length, bigCount, tokens.url);
    notes.push(`seeded ${fmt(bigCount)} more secrets through SecretService in ${fmt((performance.now() - seeded) / 1000, 1)} s`);
    let bytes = 0;
    for (const file of await readdir(dataDir)) bytes += (await stat(join(dataDir, file))).size;
    const total = bigCount + small.length + 1;
    broker = await startBroker(brokerArgs, brokerEnv(), [grpcPort!, httpPort!]);
    running.push(broker);
    rows.push([`start-up to serving, ${fmt(total)} secrets (spawn to listening)`, `${fmt(broker.startupMs)} ms`, "", "", "", "< 1000 ms"]);
    rows.push([`broker RSS, idle, ${fmt(total)} secrets`, `${fmt(await broker.rssMiB(), 1)} MiB`, "", "", "", "< 150 MiB"]);
    rows.push(["data dir bytes per secret", fmt(bytes / total), "", "", "", `${fmt(bytes / 2 ** 20, 1)} MiB in all`]);
    rows.push(...(await listPagesRows(broker, grpcAddress, metricsAddress, adminToken, rounds)));
    const admin = createClient(SecretService, createGrpcTransport({ baseUrl: `http://${grpcAddress}` }));
    const headers = { authorization: `Bearer ${adminToken}` };
    const deployNames = Array.from({ length: 1000 }, (_, i) => secretName(50_000 + i));
    const deployStart = performance.now();
    const deployed = await admin.deploySecrets({ names: deployNames }, { headers });
    rows.push([`DeploySecrets of ${fmt(deployed.secrets.length)} names, one transaction`, `${fmt(performance.now() - deployStart)} ms`, "", "", "", "< 1000 ms"]);
    const bigName = secretName(77_777 - (77_777 % 7)); // an API key deep in the store
    await inject.inject({ mode: Mode.TEST, name: bigName });
    const [bigInject] = await alternate([on(broker, grpcTarget(grpcAddress, bigName))]);
    row(`Inject static, gRPC, ${fmt(total)} secrets stored`, bigInject!, bigInject!.reqPerSec / grpcStatic!.reqPerSec, ">= 0.90x the 10-secret case", grpcStatic);
    rows.push(["broker RSS after the runs above", `${fmt(await broker.rssMiB(), 1)} MiB`, "", "", "", "< 150 MiB"]);
    rows.push(["no-op grpc-js RSS after its runs (baseline)", `${fmt(await noopGrpcRss(), 1)} MiB`, "", "", "", ""]);
    await broker.stop();
  }
} finally {
  for (const process of running) await process.stop();
  await tokens.close();
  await rm(work, { recursive: true, force: true });
  printTable();
}

function printTable() {
  const header = ["case", "req/s", "p50 ms", "p99 ms", "ratio", "goal"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(
    listOnly
      ? `\ncredbroker bench --only list-secrets: ${fmt(bigCount)} secrets, ${rounds} pass(es)`
      : `\ncredbroker bench${quick ? " --quick" : ""}: h2load -c${load.clients} -m${load.streams}, ${fmt(requests)} requests a run, ${rounds} alternating round(s), median kept`,
  );
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}\n`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
  for (const note of notes) console.log(`\n${note}`);
}

// the fleet rows come last, in a table of their own
if (!listOnly) await fleetBench({ quick, rounds });
