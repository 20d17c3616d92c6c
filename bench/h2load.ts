import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One h2load run, as measured. */
export interface LoadResult {
  requests: number;
  succeeded: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** What to send. */
export interface LoadTarget {
  url: string;
  body: Uint8Array;
  headers: Record<string, string>;
}

/** Whether h2load (Debian's nghttp2-client) is installed. */
export async function h2loadAvailable(): Promise<boolean> {
  try {
    await run("h2load", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

/** Drives a target with h2load over cleartext HTTP/2; latencies come from its per-request log. */
export async function h2load(target: LoadTarget, options: { requests: number; clients: number; streams: number }): Promise<LoadResult> {
  const dir = await mkdtemp(join(tmpdir(), "credbroker-h2load-"));
  try {
    await writeFile(join(dir, "body"), target.body);
    const args = [
      "-n", String(options.requests),
      "-c", String(options.clients),
      "-m", String(options.streams),
      "-d", join(dir, "body"),
      "--log-file", join(dir, "log"),
      ...Object.entries(target.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
      target.url,
    ];
    const { stdout } = await run("h2load", args, { maxBuffer: 16 * 1024 * 1024 });
    const finished = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
    const counts = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded/.exec(stdout);
    if (finished === null || counts === null) {
      throw new Error(`cannot read h2load's output:\n${stdout}`);
    }
    // log lines: start time (µs), HTTP status, latency (µs)
    const latencies = (await readFile(join(dir, "log"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => Number(line.split("\t")[2]) / 1000)
      .sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
    return {
      requests: Number(counts[1]),
      succeeded: Number(counts[2]),
      reqPerSec: Number(finished[1]),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A gRPC request body: the 5-byte length prefix, then the message. */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}
