import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = join(import.meta.dirname, "../../src/cli/main.ts");

/** A `credbroker serve` child process that serves. */
export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly dataDir: string;
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly metricsAddress: string;
  readonly adminToken: string;
  /** Resolves with the exit code (or the signal) once the process has ended. */
  readonly exited: Promise<number | string | null>;
  /** Everything it wrote to stderr (its log) so far. */
  stderr(): string;
  /** SIGTERM, then waits for the exit; removes the data dir unless it was given. */
  stop(): Promise<number | string | null>;
}

/** Options of startBrokerProcess. */
export interface BrokerProcessOptions {
  /** More `serve` flags, after the port-0 listeners (a later flag wins). */
  args?: string[];
  /** More environment; only PATH and these reach the process. */
  env?: Record<string, string>;
  /** Run it under `ulimit -n` of this many file descriptors (through bash). */
  maxOpenFiles?: number;
  /** Serve this data dir (e.g. the one a killed broker left) instead of a new temp one. */
  dataDir?: string;
  /** Told of the child as soon as it is spawned, before it serves (e.g. to kill it mid-start). */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Starts `credbroker serve` as a child process, every listener on port 0
 * in a temp data dir, and waits for its "credbroker serving" line: a real
 * process, so that anything that would end it, ends it.
 */
export async function startBrokerProcess(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "credbroker-process-")));
  const argv = [
    main, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
    ...(options.args ?? []),
  ];
  const env = { PATH: process.env["PATH"] ?? "", LOG_LEVEL: "info", ...options.env };
  const child =
    options.maxOpenFiles === undefined
      ? spawn(process.execPath, argv, { env, stdio: ["ignore", "ignore", "pipe"] })
      : spawn("bash", ["-c", `ulimit -n ${options.maxOpenFiles} && exec "$0" "$@"`, process.execPath, ...argv], {
          env,
          stdio: ["ignore", "ignore", "pipe"],
        });
  options.onSpawn?.(child);
  const exited = new Promise<number | string | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const serving = await new Promise<{ grpc: string; http: string; metrics: string }>((resolve, reject) => {
    const onData = () => {
      const line = log.split("\n").find((l) => l.includes('"credbroker serving"'));
      if (line !== undefined) {
        child.stderr!.off("data", onData);
        resolve(JSON.parse(line) as { grpc: string; http: string; metrics: string });
      }
    };
    child.stderr!.on("data", onData);
    void exited.then((code) => reject(new Error(`broker exited (${code}) before serving: ${log}`)));
  });
  // a configured admin token (fleet mode requires one) leaves no admin.token in the data dir
  const adminToken = options.env?.["CREDBROKER_ADMIN_TOKEN"] ?? (await readFile(join(dataDir, "admin.token"), "utf8")).trim();
  return {
    child,
    dataDir,
    grpcAddress: serving.grpc,
    httpAddress: serving.http,
    metricsAddress: serving.metrics,
    adminToken,
    exited,
    stderr: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
      }
      const code = await exited;
      if (options.dataDir === undefined) {
        await rm(dataDir, { recursive: true, force: true });
      }
      return code;
    },
  };
}
