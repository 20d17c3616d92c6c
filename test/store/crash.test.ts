import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { mixedCredentials } from "../../bench/seed.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import {
  CreateSecretRequestSchema,
  CreateSecretResponseSchema,
  GetSecretRequestSchema,
  GetSecretResponseSchema,
  ListSecretsRequestSchema,
  ListSecretsResponseSchema,
  SecretService,
  UpdateSecretRequestSchema,
  UpdateSecretResponseSchema,
} from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

const main = join(import.meta.dirname, "../../src/cli/main.ts");
const loops = 8;
const namesPerLoop = 12;
/** Every type but OAuth2, whose Code material would need a token endpoint. */
const typeIndexes = [0, 1, 2, 3, 4, 6];
const sftpPrivateKeyIndex = 4;

interface Running {
  child: ChildProcess;
  grpcAddress: string;
  exited: Promise<number | null>;
}

/** Starts `credbroker serve` as a child process and waits for its "credbroker serving" line. */
function serve(dataDir: string, masterKey: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, "serve", "--listen", "127.0.0.1:0", "--http-listen", "off", "--metrics-listen", "off", "--data-dir", dataDir], {
      env: { PATH: process.env["PATH"] ?? "", CREDBROKER_MASTER_KEY: masterKey, CREDBROKER_METRICS_LISTEN: "off", LOG_LEVEL: "info" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split("\n").find((l) => l.includes('"credbroker serving"'));
      if (line !== undefined) {
        child.stderr!.removeAllListeners("data");
        child.stderr!.resume();
        resolve({ child, grpcAddress: (JSON.parse(line) as { grpc: string }).grpc, exited });
      }
    });
    void exited.then((code) => reject(new Error(`broker exited (${code}) before serving: ${stderr}`)));
  });
}

interface Acked {
  version: bigint;
  tag: string;
  typeIndex: number;
}

describe("kill -9 during a sustained write load", () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) {
      child.kill("SIGKILL");
    }
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("loses no acknowledged write, and every record opens after restart", { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "credbroker-crash-"));
    dirs.push(dataDir);
    const masterKey = randomBytes(32).toString("base64");
    const first = await serve(dataDir, masterKey);
    children.push(first.child);
    const adminToken = (await readFile(join(dataDir, "admin.token"), "utf8")).trim();
    const secrets = createGrpcJsClient(SecretService, first.grpcAddress, adminToken);
    const acked = new Map<string, Acked>();
    let attempted = 0;
    let acknowledged = 0;
    let killed = false;

    const loop = async (k: number) => {
      for (let i = 0; i < 100_000 && !killed; i++) {
        const j = i % namesPerLoop;
        const name = `crash-${k}-${j}`;
        const typeIndex = typeIndexes[(k + j) % typeIndexes.length]!;
        const tag = `v-${k}-${j}-${i}`;
        const credentials = mixedCredentials(typeIndex + 7 * (i + 1), "http://127.0.0.1:1/token");
        // mixedCredentials tags by its argument; put ours in the description and in the value
        const tagged = retag(credentials, tag);
        const previous = acked.get(name);
        attempted++;
        const res =
          previous === undefined
            ? await secrets.call("CreateSecret", CreateSecretRequestSchema, CreateSecretResponseSchema, {
                mode: Mode.TEST,
                name,
                description: tag,
                credentials: tagged,
              })
            : await secrets.call("UpdateSecret", UpdateSecretRequestSchema, UpdateSecretResponseSchema, {
                mode: Mode.TEST,
                name,
                description: tag,
                credentials: tagged,
                expectedVersion: previous.version,
              });
        if (!res.ok) {
          if (killed || res.code === grpc.status.UNAVAILABLE) {
            return;
          }
          throw new Error(`write ${name} answered ${grpc.status[res.code]}: ${res.details}`);
        }
        acknowledged++;
        acked.set(name, { version: res.message.secret!.version, tag, typeIndex });
      }
    };
    const load = Promise.all(Array.from({ length: loops }, (_, k) => loop(k)));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    killed = true;
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(null);
    await load;
    secrets.close();
    const ackedWrites = acked.size;
    expect(ackedWrites).toBeGreaterThan(0);

    const second = await serve(dataDir, masterKey);
    children.push(second.child);
    const admin = createGrpcJsClient(SecretService, second.grpcAddress, adminToken);
    const inject = createGrpcJsClient(InjectService, second.grpcAddress);
    let present = 0;
    for (const [name, write] of acked) {
      const got = await admin.call("GetSecret", GetSecretRequestSchema, GetSecretResponseSchema, { mode: Mode.TEST, name });
      if (!got.ok || got.message.secret!.version < write.version) {
        continue;
      }
      if (got.message.secret!.version === write.version) {
        const code = await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name, step: StepKind.CODE });
        const material = code.ok && code.message.material.case === "code" ? JSON.stringify(code.message.material.value) : "";
        if (got.message.secret!.description !== write.tag || (write.typeIndex !== sftpPrivateKeyIndex && !material.includes(write.tag))) {
          continue;
        }
      }
      present++;
    }
    // every record opens, acknowledged or not
    let records = 0;
    let opened = 0;
    const failures: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.call("ListSecrets", ListSecretsRequestSchema, ListSecretsResponseSchema, { mode: Mode.TEST, pageSize: 100, pageToken });
      if (!page.ok) {
        throw new Error(`ListSecrets answered ${grpc.status[page.code]}`);
      }
      for (const secret of page.message.secrets) {
        records++;
        for (const step of [StepKind.UNSPECIFIED, StepKind.CODE]) {
          const res = await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: secret.name, step });
          if (!res.ok) {
            failures.push(`${secret.name} step ${step}: ${grpc.status[res.code]}`);
          }
        }
        opened++;
      }
      pageToken = page.message.nextPageToken;
    } while (pageToken !== "");
    admin.close();
    inject.close();
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);

    console.log(
      `kill -9 after 1.5 s of ${loops} write loops: ${attempted} writes sent, ${acknowledged} acknowledged (the last of them on ${ackedWrites} secrets), ` +
        `${present} of ${ackedWrites} secrets present at (at least) their last acknowledged version and value; ${records} records after restart, ${opened - failures.length} open (Inject and Code)`,
    );
    expect(failures).toEqual([]);
    expect(present).toBe(ackedWrites);
    expect(records).toBeGreaterThanOrEqual(ackedWrites);
  });
});

/** The same credentials with tag as the value that a step sees. */
function retag(credentials: ReturnType<typeof mixedCredentials>, tag: string): ReturnType<typeof mixedCredentials> {
  return JSON.parse(JSON.stringify(credentials).replace(/bench-value-\d+/g, tag)) as ReturnType<typeof mixedCredentials>;
}
