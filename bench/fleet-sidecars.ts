import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InjectService } from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { freePort, startBroker, type Running } from "./processes.ts";

/** What every broker of the fleet bench shares. */
export interface FleetSettings {
  /** Where each broker's data dir goes. */
  work: string;
  /** The fleet's PostgreSQL; undefined for a standalone broker. */
  postgresUrl: string | undefined;
  masterKey: string;
  adminToken: string;
}

/** One broker of the bench, its listeners and a client of each service over one HTTP/2 connection. */
export interface Sidecar {
  readonly name: string;
  readonly grpcAddress: string;
  readonly metricsAddress: string;
  readonly inject: Client<typeof InjectService>;
  readonly admin: Client<typeof SecretService>;
  /** The running process; replaced by restart(). */
  process: Running;
  /** The last warnings and errors the broker logged, for a failure's message. */
  warnings(): string[];
  /** Starts the process again on the same data dir and ports (after stop()). */
  restart(): Promise<Running>;
  /** SIGTERM, and SIGKILL if the process has not exited 10 s later. */
  stop(): Promise<void>;
  /** How many times stop() had to kill the process. */
  readonly killedOnStop: number;
}

/** Starts a broker: in fleet mode named `name` (its CREDBROKER_INSTANCE_ID), or standalone without a PostgreSQL URL. */
export async function startSidecar(settings: FleetSettings, name: string): Promise<Sidecar> {
  const [grpcPort, httpPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const metricsAddress = `127.0.0.1:${metricsPort}`;
  const args = ["--data-dir", join(settings.work, name), "--listen", grpcAddress, "--http-listen", `127.0.0.1:${httpPort}`, "--metrics-listen", metricsAddress];
  const env: Record<string, string> = { CREDBROKER_MASTER_KEY: settings.masterKey, CREDBROKER_ADMIN_TOKEN: settings.adminToken };
  if (settings.postgresUrl !== undefined) {
    env["CREDBROKER_POSTGRES_URL"] = settings.postgresUrl;
    env["CREDBROKER_INSTANCE_ID"] = name;
  }
  const warnings: string[] = [];
  let killed = 0;
  const start = async () => {
    const running = await startBroker(args, env, [grpcPort!, httpPort!]);
    for (const stream of [running.child.stdout, running.child.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n")) {
          // warnings and errors, and whatever is not a log line (a crash's stack)
          if (/"level":[456]0/.test(line) || (line.trim() !== "" && !line.startsWith("{"))) warnings.push(line.slice(0, 600));
        }
        warnings.splice(0, Math.max(0, warnings.length - 20));
      });
    }
    running.child.once("exit", (code, signal) => warnings.push(`exited: ${code ?? signal}`));
    return running;
  };
  const transport = createGrpcTransport({ baseUrl: `http://${grpcAddress}` });
  const sidecar: Sidecar = {
    name,
    grpcAddress,
    metricsAddress,
    inject: createClient(InjectService, transport),
    admin: createClient(SecretService, transport),
    process: await start(),
    warnings: () => warnings,
    async restart() {
      sidecar.process = await start();
      return sidecar.process;
    },
    async stop() {
      const child = sidecar.process.child;
      const gone = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
      child.kill("SIGTERM");
      if (!(await Promise.race([gone.then(() => true), sleep(stopMs).then(() => false)]))) {
        killed++;
        child.kill("SIGKILL");
        await gone;
      }
    },
    get killedOnStop() {
      return killed;
    },
  };
  return sidecar;
}

/** How long a broker may take to exit after SIGTERM (it drains for up to 10 s only when calls are in flight). */
const stopMs = 10_000;

/** The admin token as call options. */
export const adminHeaders = (adminToken: string) => ({ headers: { authorization: `Bearer ${adminToken}` } });

/** An API key secret's values: what its Inject answers as the X-API-Key header. */
export const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-API-Key", keyValue: value } } });

/** The version and X-API-Key value a sidecar's Inject answers for a test secret; version 0 when it answers NOT_FOUND. */
export async function injected(sidecar: Sidecar, name: string): Promise<{ version: bigint; value: string | undefined }> {
  let answer;
  try {
    answer = await sidecar.inject.inject({ mode: Mode.TEST, name }, { timeoutMs: 10_000 });
  } catch (error) {
    if (ConnectError.from(error).code === Code.NotFound) {
      return { version: 0n, value: undefined };
    }
    throw error;
  }
  const material = answer.material.case === "http" ? answer.material.value : undefined;
  return { version: answer.secret?.version ?? 0n, value: material?.headers.find((h) => h.name === "X-API-Key")?.value };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with PostgreSQL's commit timestamps on this machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls a sidecar's Inject, one call at a time with `pollMs` between calls,
 * until it answers `version` of `name` with `value`; resolves to the wall
 * time that answer arrived. A newer version counts; the same version with
 * another value (stale material) or no answer by `deadline` throws.
 */
export async function servedAt(sidecar: Sidecar, name: string, version: bigint, value: string, pollMs: number, deadline: number): Promise<number> {
  for (;;) {
    const answer = await injected(sidecar, name);
    const at = wallNow();
    if (answer.version > version || (answer.version === version && answer.value === value)) {
      return at;
    }
    if (answer.version === version) {
      throw new Error(`${sidecar.name} answers version ${version} of ${name} with stale material`);
    }
    if (at > deadline) {
      throw new Error(`${sidecar.name} still serves version ${answer.version} of ${name}, not ${version}`);
    }
    await sleep(pollMs);
  }
}
