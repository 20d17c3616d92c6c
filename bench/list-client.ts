// node bench/list-client.ts <gRPC address> <admin token>: one pass through
// every test secret with ListSecrets pages of 100, one call at a time, as
// admin tooling makes it (connect-node's gRPC transport). Run by
// bench/list-pages.ts in a process of its own, as a CLI's `secrets list --all`
// is; prints JSON: each page's ms, this process's GC pauses and run-queue
// wait, and the page token of the middle page.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { PerformanceObserver } from "node:perf_hooks";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { runQueueMs } from "./processes.ts";

const [address, adminToken] = process.argv.slice(2);
const admin = createClient(SecretService, createGrpcTransport({ baseUrl: `http://${address}` }));
const headers = { authorization: `Bearer ${adminToken}` };
const gcMs: number[] = [];
const observer = new PerformanceObserver((list) => gcMs.push(...list.getEntries().map((entry) => entry.duration)));
observer.observe({ entryTypes: ["gc"] });
const times: number[] = [];
const tokens: string[] = [];
const waitBefore = await runQueueMs("self");
let pageToken = "";
do {
  const started = performance.now();
  const page = await admin.listSecrets({ mode: Mode.TEST, pageSize: 100, pageToken }, { headers });
  times.push(performance.now() - started);
  tokens.push(pageToken);
  pageToken = page.nextPageToken;
} while (pageToken !== "");
const waitMs = (await runQueueMs("self")) - waitBefore;
// the observer's last entries arrive on a later turn
await new Promise((resolve) => setTimeout(resolve, 20));
observer.disconnect();
process.stdout.write(JSON.stringify({ times, gcMs, waitMs, middleToken: tokens[Math.floor(tokens.length / 2)] }));
