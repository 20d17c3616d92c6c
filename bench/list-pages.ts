import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { freePort, runQueueMs, startBroker, type Running } from "./processes.ts";
import { seedDataDir } from "./seed.ts";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const at = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

/**
 * The ListSecrets rows: `passes` walks through every test secret with pages
 * of 100, one call at a time, over gRPC (admin tooling's default transport);
 * p50 and p99 over all pages, each pass's p99 so the noise shows, and the
 * broker's CPU time per page, which a busy machine disturbs less.
 */
export async function listPagesRows(broker: Running, grpcAddress: string, adminToken: string, passes: number): Promise<string[][]> {
  const admin = createClient(SecretService, createGrpcTransport({ baseUrl: `http://${grpcAddress}` }));
  const headers = { authorization: `Bearer ${adminToken}` };
  const all: number[] = [];
  const own = broker.recordCalls("ListSecrets");
  const passP99: string[] = [];
  const passCpu: string[] = [];
  const passWaits: string[] = [];
  let pages = 0;
  for (let pass = 0; pass < passes; pass++) {
    const times: number[] = [];
    const cpuBefore = await broker.cpuMs();
    const waitsBefore = [await broker.runQueueMs(), await runQueueMs("self")];
    let pageToken = "";
    do {
      const t = performance.now();
      const page = await admin.listSecrets({ mode: Mode.TEST, pageSize: 100, pageToken }, { headers });
      times.push(performance.now() - t);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    passCpu.push(fmt(((await broker.cpuMs()) - cpuBefore) / times.length, 2));
    const waits = [(await broker.runQueueMs()) - waitsBefore[0]!, (await runQueueMs("self")) - waitsBefore[1]!];
    passWaits.push(`${fmt(waits[0]! / times.length, 2)} / ${fmt(waits[1]! / times.length, 2)}`);
    pages = times.length;
    all.push(...times);
    passP99.push(fmt(at(times.sort((a, b) => a - b), 0.99), 2));
  }
  all.sort((a, b) => a - b);
  // the broker's own time for each page (its log line's ms: the interceptors and the handler; decoding, encoding and HTTP/2 are not in it)
  own.sort((a, b) => a - b);
  return [
    [
      `ListSecrets, page of 100, all ${fmt(pages)} pages (gRPC, one client), ${passes} pass(es)`,
      "",
      fmt(at(all, 0.5), 2),
      fmt(at(all, 0.99), 2),
      "",
      `p99 < 5 ms; p99 of each pass: ${passP99.join(", ")}`,
    ],
    [
      "ListSecrets, the broker's own time per page (its log lines' ms: interceptors and handler)",
      "",
      fmt(at(own, 0.5), 2),
      fmt(at(own, 0.99), 2),
      "",
      `${fmt(own.length)} pages logged; the rest of a call's time is decoding, encoding, HTTP/2, the client and the machine's scheduling`,
    ],
    ["ListSecrets, broker CPU ms (user + system) per page of 100", "", "", "", "", `each pass: ${passCpu.join(", ")}`],
    [
      "ListSecrets, run-queue wait ms per page, broker / bench client (main threads ready to run with no CPU free)",
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
 * seeded secrets, and the ListSecrets row alone (no h2load needed).
 */
export async function listPagesOnly(count: number, passes: number): Promise<string[][]> {
  const work = await mkdtemp(join(tmpdir(), "credbroker-bench-list-"));
  const dataDir = join(work, "data");
  const masterKey = new Uint8Array(randomBytes(32));
  const adminToken = randomBytes(24).toString("base64url");
  const [grpcPort, httpPort] = await Promise.all([freePort(), freePort()]);
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const args = ["--data-dir", dataDir, "--listen", grpcAddress, "--http-listen", `127.0.0.1:${httpPort}`, "--metrics-listen", "127.0.0.1:0"];
  const env = { CREDBROKER_MASTER_KEY: Buffer.from(masterKey).toString("base64"), CREDBROKER_ADMIN_TOKEN: adminToken };
  try {
    // the first start writes the keyring that seeding seals with
    await (await startBroker(args, env, [grpcPort!, httpPort!])).stop();
    process.stderr.write(`bench: seeding ${fmt(count)} secrets\n`);
    await seedDataDir(dataDir, masterKey, 0, count, "https://127.0.0.1:1/token");
    const broker = await startBroker(args, env, [grpcPort!, httpPort!]);
    try {
      return await listPagesRows(broker, grpcAddress, adminToken, passes);
    } finally {
      await broker.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
