import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { ListSecretsRequestSchema } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { grpcFrame, h2load, type LoadResult } from "./h2load.ts";
import { freePort, okCalls, startBroker, type Running } from "./processes.ts";
import { seedDataDir } from "./seed.ts";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const run = promisify(execFile);
const at = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

/** Requests of each h2load round of the middle page. */
const middlePageRequests = 2000;

/** One client pass (bench/list-client.ts) in a process of its own. */
async function clientPass(grpcAddress: string, adminToken: string): Promise<ClientPass> {
  const { stdout } = await run(process.execPath, [join(import.meta.dirname, "list-client.ts"), grpcAddress, adminToken], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as ClientPass;
}

interface ClientPass {
  times: number[];
  gcMs: number[];
  waitMs: number;
  middleToken: string;
}

/**
 * The ListSecrets rows: `passes` walks through every test secret with pages
 * of 100, one call at a time, over gRPC (admin tooling's default
 * transport), each pass by a client process of its own (as a CLI's
 * `secrets list --all` is: the bench's own process holds what seeding left,
 * and its scavenges took 20-30 ms each); p50 and p99 over all pages, each
 * pass's p99 so the noise shows, the client's own GC pauses, and the
 * broker's CPU time per page, which a busy machine disturbs less. Then the
 * middle page alone, `passes` rounds of h2load -c1 -m1 (a client in C, with
 * no garbage collector of its own), each answer checked OK in the broker's
 * metrics.
 */
export async function listPagesRows(broker: Running, grpcAddress: string, metricsAddress: string, adminToken: string, passes: number): Promise<string[][]> {
  const all: number[] = [];
  const own = broker.recordCalls("ListSecrets");
  const passP99: string[] = [];
  const passCpu: string[] = [];
  const passWaits: string[] = [];
  const clientGc: string[] = [];
  let pages = 0;
  let middleToken = "";
  for (let pass = 0; pass < passes; pass++) {
    const cpuBefore = await broker.cpuMs();
    const waitBefore = await broker.runQueueMs();
    const { times, gcMs, waitMs, middleToken: token } = await clientPass(grpcAddress, adminToken);
    passCpu.push(fmt(((await broker.cpuMs()) - cpuBefore) / times.length, 2));
    passWaits.push(`${fmt(((await broker.runQueueMs()) - waitBefore) / times.length, 2)} / ${fmt(waitMs / times.length, 2)}`);
    const long = gcMs.filter((ms) => ms > 2);
    clientGc.push(`${long.length} (longest ${fmt(Math.max(0, ...gcMs), 1)} ms)`);
    pages = times.length;
    middleToken = token;
    all.push(...times);
    passP99.push(fmt(at(times.sort((a, b) => a - b), 0.99), 2));
  }
  all.sort((a, b) => a - b);
  // the broker's own time for each page of the passes (its log line's ms: the interceptors and the handler; decoding, encoding and HTTP/2 are not in it)
  const ownPages = [...own].sort((a, b) => a - b);
  const body = grpcFrame(toBinary(ListSecretsRequestSchema, create(ListSecretsRequestSchema, { mode: Mode.TEST, pageSize: 100, pageToken: middleToken })));
  const target = {
    url: `http://${grpcAddress}/credbroker.v1.SecretService/ListSecrets`,
    body,
    headers: { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${adminToken}` },
  };
  const okBefore = await okCalls(metricsAddress, "ListSecrets");
  const middle: LoadResult[] = [];
  for (let round = 0; round < passes; round++) {
    middle.push(await h2load(target, { requests: middlePageRequests, clients: 1, streams: 1 }));
  }
  const answeredOk = (await okCalls(metricsAddress, "ListSecrets")) - okBefore;
  if (answeredOk !== passes * middlePageRequests) {
    throw new Error(`the broker answered ${answeredOk} of ${passes * middlePageRequests} ListSecrets calls of h2load with OK`);
  }
  const byP99 = [...middle].sort((a, b) => a.p99Ms - b.p99Ms);
  const median = byP99[Math.floor(byP99.length / 2)]!;
  return [
    [
      `ListSecrets, page of 100, all ${fmt(pages)} pages (gRPC, connect-node client, a process per pass), ${passes} pass(es)`,
      "",
      fmt(at(all, 0.5), 2),
      fmt(at(all, 0.99), 2),
      "",
      `p99 < 5 ms; p99 of each pass: ${passP99.join(", ")}; the client's own GC pauses over 2 ms, each pass: ${clientGc.join(", ")}`,
    ],
    [
      `ListSecrets, the middle page of 100, h2load -c1 -m1, ${fmt(middlePageRequests)} calls a round, ${passes} round(s), the median round by p99`,
      fmt(median.reqPerSec),
      fmt(median.p50Ms, 2),
      fmt(median.p99Ms, 2),
      "",
      `p99 < 5 ms; p99 of each round: ${middle.map((r) => fmt(r.p99Ms, 2)).join(", ")}; each answer OK in the broker's metrics`,
    ],
    [
      "ListSecrets, the broker's own time per page of the passes (its log lines' ms: interceptors and handler)",
      "",
      fmt(at(ownPages, 0.5), 2),
      fmt(at(ownPages, 0.99), 2),
      "",
      `${fmt(ownPages.length)} pages of the passes logged; the rest of a call's time is decoding, encoding, HTTP/2, the client and the machine's scheduling`,
    ],
    ["ListSecrets, broker CPU ms (user + system) per page of 100, connect-node passes", "", "", "", "", `each pass: ${passCpu.join(", ")}`],
    [
      "ListSecrets, run-queue wait ms per page, broker / client (main threads ready to run with no CPU free)",
      "",
      "",
      "",
      "",
      `each pass: ${passWaits.join(", ")}; the machine's share of a page's time, not the code's`,
    ],
  ];
}

/**
 * `npm run bench -- --only list-secrets`: a broker of its own over `count`
 * seeded secrets, and the ListSecrets rows alone.
 */
export async function listPagesOnly(count: number, passes: number): Promise<string[][]> {
  const work = await mkdtemp(join(tmpdir(), "credbroker-bench-list-"));
  const dataDir = join(work, "data");
  const masterKey = new Uint8Array(randomBytes(32));
  const adminToken = randomBytes(24).toString("base64url");
  const [grpcPort, httpPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const metricsAddress = `127.0.0.1:${metricsPort}`;
  const args = ["--data-dir", dataDir, "--listen", grpcAddress, "--http-listen", `127.0.0.1:${httpPort}`, "--metrics-listen", metricsAddress];
  const env = { CREDBROKER_MASTER_KEY: Buffer.from(masterKey).toString("base64"), CREDBROKER_ADMIN_TOKEN: adminToken };
  try {
    // the first start writes the keyring that seeding seals with
    await (await startBroker(args, env, [grpcPort!, httpPort!])).stop();
    process.stderr.write(`bench: seeding ${fmt(count)} secrets\n`);
    await seedDataDir(dataDir, masterKey, 0, count, "https://127.0.0.1:1/token");
    const broker = await startBroker(args, env, [grpcPort!, httpPort!]);
    try {
      return await listPagesRows(broker, grpcAddress, metricsAddress, adminToken, passes);
    } finally {
      await broker.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
