/**
 * A fleet for tests: `credbroker serve` child processes on one throwaway
 * PostgreSQL database, each with its own data dir (its replica), reached by
 * real clients: Connect over HTTP/2 on the HTTP listener, gRPC on the gRPC
 * listener.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../../src/gen/credbroker/v1/key_service_pb.ts";
import type { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.ts";
import { startBrokerProcess, type BrokerProcess, type BrokerProcessOptions } from "./broker-process.ts";
import { afterAll, beforeAll } from "vitest";
import { postgresAvailable, startPostgres, type RunningPostgres } from "./postgres.ts";

/** One sidecar of a test fleet: a broker process and clients of its services. */
export interface Sidecar {
  readonly instanceId: string;
  readonly process: BrokerProcess;
  readonly dataDir: string;
  /** Connect (HTTP/2) clients on the HTTP listener, with the admin token. */
  readonly secrets: Client<typeof SecretService>;
  readonly keys: Client<typeof KeyService>;
  readonly audit: Client<typeof AuditService>;
  /** Inject over Connect (HTTP/2) on the HTTP listener. */
  readonly inject: Client<typeof InjectService>;
  /** Inject over gRPC on the gRPC listener. */
  readonly injectGrpc: Client<typeof InjectService>;
  /** SIGTERM and the exit code; the data dir stays for a restart. */
  stop(): Promise<number | string | null>;
  /** SIGKILL; the data dir stays. */
  kill(): Promise<number | string | null>;
}

/** Several sidecars on one PostgreSQL database, with the same master key and admin token. */
export interface Fleet {
  readonly postgres: RunningPostgres;
  readonly database: string;
  readonly url: string;
  readonly schema: string;
  readonly masterKey: string;
  readonly adminToken: string;
  /** The environment of a sidecar of this fleet. */
  env(instanceId: string): Record<string, string>;
  /** Starts a sidecar (a new data dir unless `dataDir`, e.g. a stopped sidecar's). */
  start(instanceId: string, options?: { dataDir?: string; env?: Record<string, string>; args?: string[]; onSpawn?: BrokerProcessOptions["onSpawn"]; unset?: string[] }): Promise<Sidecar>;
  /** Starts sidecars: the first alone (it creates the schema and the keyring), the others at once. */
  startAll(instanceIds: readonly string[]): Promise<Sidecar[]>;
  /** Runs SQL on the fleet's database. */
  sql(text: string): string;
  /** Kills what is still running and removes the data dirs. */
  close(): Promise<void>;
}

function client<S extends DescService>(service: S, transport: "connect" | "grpc", address: string, token: string | undefined): Client<S> {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const options = { baseUrl: `http://${address}`, interceptors: token === undefined ? [] : [auth] };
  return createClient(service, transport === "connect" ? createConnectTransport({ ...options, httpVersion: "2" }) : createGrpcTransport(options));
}

let fleets = 0;

/** A fleet on a new database of `postgres` (schema `credbroker` unless told). */
export function createFleet(postgres: RunningPostgres, options: { schema?: string } = {}): Fleet {
  const database = `fleet_${process.pid}_${++fleets}`;
  const url = postgres.database(database);
  const schema = options.schema ?? "credbroker";
  const masterKey = randomBytes(32).toString("base64");
  const adminToken = randomBytes(24).toString("base64url");
  const running = new Set<BrokerProcess>();
  const dataDirs = new Set<string>();
  const env = (instanceId: string): Record<string, string> => ({
    CREDBROKER_POSTGRES_URL: url,
    CREDBROKER_POSTGRES_SCHEMA: schema,
    CREDBROKER_INSTANCE_ID: instanceId,
    CREDBROKER_MASTER_KEY: masterKey,
    CREDBROKER_ADMIN_TOKEN: adminToken,
  });
  return {
    postgres,
    database,
    url,
    schema,
    masterKey,
    adminToken,
    env,
    async start(instanceId, startOptions = {}) {
      const dataDir = startOptions.dataDir ?? (await mkdtemp(join(tmpdir(), `credbroker-fleet-${instanceId}-`)));
      dataDirs.add(dataDir);
      const sidecarEnv = { ...env(instanceId), ...startOptions.env };
      for (const name of startOptions.unset ?? []) {
        delete sidecarEnv[name];
      }
      const processOptions: BrokerProcessOptions = { dataDir, env: sidecarEnv };
      if (startOptions.args !== undefined) {
        processOptions.args = startOptions.args;
      }
      if (startOptions.onSpawn !== undefined) {
        processOptions.onSpawn = startOptions.onSpawn;
      }
      const broker = await startBrokerProcess(processOptions);
      running.add(broker);
      void broker.exited.then(() => running.delete(broker));
      const end = async (signal: NodeJS.Signals) => {
        if (broker.child.exitCode === null && broker.child.signalCode === null) {
          broker.child.kill(signal);
        }
        return broker.exited;
      };
      return {
        instanceId,
        process: broker,
        dataDir,
        secrets: client(SecretService, "connect", broker.httpAddress, adminToken),
        keys: client(KeyService, "connect", broker.httpAddress, adminToken),
        audit: client(AuditService, "connect", broker.httpAddress, adminToken),
        inject: client(InjectService, "connect", broker.httpAddress, undefined),
        injectGrpc: client(InjectService, "grpc", broker.grpcAddress, undefined),
        stop: () => end("SIGTERM"),
        kill: () => end("SIGKILL"),
      };
    },
    async startAll(instanceIds) {
      const [first, ...rest] = instanceIds;
      const sidecars = first === undefined ? [] : [await this.start(first)];
      return [...sidecars, ...(await Promise.all(rest.map((id) => this.start(id))))];
    },
    sql: (text) => postgres.sql(text, database),
    async close() {
      for (const broker of running) {
        broker.child.kill("SIGKILL");
      }
      await Promise.all([...running].map((broker) => broker.exited));
      await Promise.all([...dataDirs].map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/**
 * For a describe block: a throwaway PostgreSQL and a fleet on it, started
 * before the block's tests (its sidecars are the block's to start) and
 * closed, sidecars and all, after them.
 */
export function useFleet(): { readonly postgres: RunningPostgres; readonly fleet: Fleet } {
  const setup: { postgres?: RunningPostgres; fleet?: Fleet } = {};
  beforeAll(async () => {
    setup.postgres = await startPostgres();
    setup.fleet = createFleet(setup.postgres);
  }, 60_000);
  afterAll(async () => {
    await setup.fleet?.close();
    await setup.postgres?.close();
  });
  return {
    get postgres() {
      return setup.postgres!;
    },
    get fleet() {
      return setup.fleet!;
    },
  };
}

/** Credentials of a bearer token secret. */
export function bearer(token: string) {
  return { kind: { case: "bearerToken" as const, value: { token } } };
}

/** The token an Inject of a bearer secret answers, or "NOT_FOUND"; any other error is thrown. */
export async function injectedToken(inject: Client<typeof InjectService>, mode: Mode, name: string): Promise<string> {
  try {
    const answer = await inject.inject({ mode, name });
    if (answer.material.case !== "http") {
      throw new Error(`not HTTP material: ${answer.material.case}`);
    }
    const header = answer.material.value.headers.find((h) => h.name.toLowerCase() === "authorization");
    return header?.value.replace(/^Bearer /, "") ?? "";
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.NotFound) {
      return "NOT_FOUND";
    }
    throw error;
  }
}

/** Polls `check` every few milliseconds until it holds; resolves to the milliseconds it took, rejects past the deadline. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, deadlineMs = 10_000, everyMs = 5): Promise<number> {
  const start = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) {
        return performance.now() - start;
      }
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - start > deadlineMs) {
      throw new Error(`not within ${deadlineMs} ms: ${what}${lastError === undefined ? "" : ` (last error: ${String(lastError)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The Connect code of a failed call and its ErrorInfo reason, or "ok". */
export async function outcome(call: Promise<unknown>): Promise<{ code: Code | "ok"; reason: string | undefined }> {
  try {
    await call;
    return { code: "ok", reason: undefined };
  } catch (error) {
    const err = ConnectError.from(error);
    return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason };
  }
}

/** p50, p99 and max of some milliseconds, rounded, for the figures a test prints. */
export function spread(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return `p50 ${Math.round(at(0.5))} ms, p99 ${Math.round(at(0.99))} ms, max ${Math.round(at(1))} ms (n=${sorted.length})`;
}

/** Whether the fleet tests run here, and a title that says why not. */
export function fleetSuite(title: string): { skip: boolean; title: string } {
  const availability = postgresAvailable();
  return availability.available ? { skip: false, title } : { skip: true, title: `${title} (skipped: ${availability.reason})` };
}

/** What a read load saw: how many calls of each kind answered, and every failure. */
export interface ReadLoadResult {
  readonly answered: Record<string, number>;
  readonly failures: string[];
}

/**
 * Keeps Inject (Connect and gRPC), GetSecret and ListSecrets busy on each
 * sidecar, one call after another per kind, until stopped; every answer
 * must be the secret's (any of `values`).
 */
export function startReadLoad(sidecars: readonly Sidecar[], mode: Mode, name: string, values: readonly string[]): { stop(): Promise<ReadLoadResult> } {
  let stopped = false;
  const answered: Record<string, number> = {};
  const failures: string[] = [];
  const loop = async (key: string, call: () => Promise<unknown>) => {
    answered[key] = 0;
    while (!stopped) {
      try {
        const value = await call();
        if (typeof value === "string" && !values.includes(value)) {
          failures.push(`${key}: answered ${value}`);
        }
        answered[key]++;
      } catch (error) {
        failures.push(`${key}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const loops = sidecars.flatMap((sidecar) => [
    loop(`${sidecar.instanceId} Inject/Connect`, () => injectedToken(sidecar.inject, mode, name)),
    loop(`${sidecar.instanceId} Inject/gRPC`, () => injectedToken(sidecar.injectGrpc, mode, name)),
    loop(`${sidecar.instanceId} GetSecret`, async () => {
      if ((await sidecar.secrets.getSecret({ mode, name })).secret?.name !== name) {
        throw new Error(`GetSecret did not answer ${name}`);
      }
    }),
    loop(`${sidecar.instanceId} ListSecrets`, async () => {
      const listed = await sidecar.secrets.listSecrets({ mode, pageSize: 100 });
      if (!listed.secrets.some((s) => s.name === name)) {
        throw new Error(`ListSecrets lacks ${name}`);
      }
    }),
  ]);
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { answered, failures };
    },
  };
}

/** What the central store holds: each (mode, name) with its version, or "deleted" for a tombstone. */
export function centralRecords(fleet: Fleet): Map<string, bigint | "deleted"> {
  const rows = fleet.sql(`SELECT mode, name, version, deleted FROM ${fleet.schema}.records`).split("\n").filter((line) => line !== "");
  return new Map(
    rows.map((line) => {
      const [mode, name, version, deleted] = line.split("|");
      return [`${mode}/${name}`, deleted === "t" ? "deleted" : BigInt(version!)];
    }),
  );
}

/** What a sidecar's ListSecrets answers: each (mode, name) with its version. */
export async function listedRecords(sidecar: Sidecar): Promise<Map<string, bigint>> {
  const listed = new Map<string, bigint>();
  for (const mode of [1, 2] as Mode[]) {
    let pageToken = "";
    do {
      const page = await sidecar.secrets.listSecrets({ mode, pageSize: 1000, pageToken });
      for (const secret of page.secrets) {
        listed.set(`${mode}/${secret.name}`, secret.version);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return listed;
}

/** The differences between a sidecar's secrets and the central store's: empty when the replica is consistent. */
export async function replicaDifferences(fleet: Fleet, sidecar: Sidecar): Promise<string[]> {
  const central = centralRecords(fleet);
  const listed = await listedRecords(sidecar);
  const differences: string[] = [];
  for (const [key, version] of central) {
    const served = listed.get(key);
    if (version === "deleted" ? served !== undefined : served !== version) {
      differences.push(`${key}: central ${version}, ${sidecar.instanceId} ${served ?? "absent"}`);
    }
  }
  for (const key of listed.keys()) {
    if (!central.has(key)) {
      differences.push(`${key}: absent centrally, ${sidecar.instanceId} ${listed.get(key)}`);
    }
  }
  return differences;
}

/** Runs `count` calls, `concurrency` at a time. */
export async function inParallel(count: number, concurrency: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        await call(next++);
      }
    }),
  );
}
