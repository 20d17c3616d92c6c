import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");

/** A child process of the benchmark. */
export interface Running {
  readonly child: ChildProcess;
  /** Milliseconds from spawn to ready. */
  readonly startupMs: number;
  /** Resident set size in MiB, from /proc. */
  rssMiB(): Promise<number>;
  /** The resident set's parts in MiB, from /proc: anonymous memory (heaps) and mapped files (LMDB's map, the binary). */
  rssPartsMiB(): Promise<{ anon: number; file: number }>;
  /** CPU time used so far (user and system) in milliseconds, from /proc: the cost of a run, less disturbed by a busy machine than its latency. */
  cpuMs(): Promise<number>;
  /** Milliseconds its main thread spent ready to run but waiting for a CPU so far (runQueueMs). */
  runQueueMs(): Promise<number>;
  /**
   * Starts keeping the `ms` of the broker's call lines for a method (e.g.
   * "ListSecrets"): its own time for each call from now on, in order. Lines
   * of other methods are not parsed, so a run that logs every Inject costs
   * the bench nothing more.
   */
  recordCalls(method: string): number[];
  stop(): Promise<void>;
}

/** The broker's call counts by method and code, from its metrics. */
async function requestCounts(metricsAddress: string): Promise<{ method: string; code: string; count: number }[]> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  return [...text.matchAll(/^credbroker_requests_total\{[^}]*method="(\w+)"[^}]*code="(\w+)"[^}]*\} (\d+)/gm)].map(([, method, code, count]) => ({
    method: method!,
    code: code!,
    count: Number(count),
  }));
}

/** The broker's ok Injects and failed calls of any method, from its metrics. */
export async function callCounts(metricsAddress: string): Promise<{ injectsOk: number; failures: number }> {
  let injectsOk = 0;
  let failures = 0;
  for (const { method, code, count } of await requestCounts(metricsAddress)) {
    if (code === "OK") injectsOk += method === "Inject" ? count : 0;
    else failures += count;
  }
  return { injectsOk, failures };
}

/** The calls of a method the broker answered OK so far, from its metrics. */
export async function okCalls(metricsAddress: string, method: string): Promise<number> {
  let ok = 0;
  for (const counted of await requestCounts(metricsAddress)) {
    if (counted.method === method && counted.code === "OK") ok += counted.count;
  }
  return ok;
}

/**
 * Milliseconds a process's main thread ("self": the bench's own) has spent
 * so far ready to run but waiting for a CPU, from /proc/<pid>/schedstat
 * (its second field, in ns): on a busy machine, the part of a latency that
 * is the machine's, not the code's.
 */
export async function runQueueMs(pid: number | "self"): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/schedstat`, "utf8")).split(" ");
  return Number(fields[1]) / 1e6;
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `credbroker serve` and waits until both of its listeners accept connections. */
export function startBroker(args: string[], env: Record<string, string>, ports: number[]): Promise<Running> {
  const ready = async () => (await Promise.all(ports.map(accepts))).every(Boolean);
  return startProcess([join(root, "src/cli/main.ts"), "serve", ...args], env, ready);
}

/** Starts a no-op baseline server (bench/noop-server.ts). */
export function startNoop(kind: "grpc" | "connect", port: number, responseFile: string): Promise<Running> {
  return startProcess([join(root, "bench/noop-server.ts"), kind, String(port), responseFile], {}, () => accepts(port));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function startProcess(args: string[], env: Record<string, string>, ready: () => Promise<boolean>): Promise<Running> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let pending = "";
  /** The recorded methods' lists, by the text their lines carry: `"method":"<service>/<method>"` ends with `/<method>"`. */
  const calls = new Map<string, number[]>();
  const onData = (chunk: Buffer) => {
    const text = pending + chunk.toString("utf8");
    const lines = text.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (output.length < 64 * 1024) {
        output += `${line}\n`;
      }
      if (calls.size > 0) {
        noteCall(calls, line);
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`${args[0]} exited (${code}) before it was ready:\n${output}`));
    child.once("exit", exited);
    let probing = false;
    const poll = setInterval(async () => {
      if (probing) return;
      probing = true;
      const up = await ready();
      probing = false;
      if (!up || child.exitCode !== null) return;
      clearInterval(poll);
      child.off("exit", exited);
      const startupMs = performance.now() - started;
      resolve({
        child,
        startupMs,
        async rssMiB() {
          const status = await readFile(`/proc/${child.pid}/status`, "utf8");
          return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
        },
        async rssPartsMiB() {
          const status = await readFile(`/proc/${child.pid}/status`, "utf8");
          const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
          return { anon: kib("RssAnon") / 1024, file: (kib("RssFile") + kib("RssShmem")) / 1024 };
        },
        async cpuMs() {
          // utime and stime, the 14th and 15th fields, in clock ticks (100 a second on Linux)
          const stat = await readFile(`/proc/${child.pid}/stat`, "utf8");
          const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          return (Number(fields[11]) + Number(fields[12])) * 10;
        },
        runQueueMs: () => runQueueMs(child.pid!),
        recordCalls(method) {
          const list: number[] = [];
          calls.set(`/${method}"`, list);
          return list;
        },
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    }, 5);
  });
}

/** Keeps the `ms` of a broker's JSON call line (`"msg":"call"`) in the list of its method, when that method is recorded. */
function noteCall(calls: Map<string, number[]>, line: string): void {
  if (!line.includes('"msg":"call"')) {
    return;
  }
  for (const [method, list] of calls) {
    if (line.includes(method)) {
      try {
        const { ms } = JSON.parse(line) as { ms?: unknown };
        if (typeof ms === "number") {
          list.push(ms);
        }
      } catch {
        // not a JSON line of the broker's
      }
      return;
    }
  }
}
