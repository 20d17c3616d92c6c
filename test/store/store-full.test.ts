import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { CreateSecretRequestSchema, CreateSecretResponseSchema, SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

/** A 2 MiB tmpfs as the data dir's file system, or why there is none. */
async function mountSmallTmpfs(): Promise<{ dir: string } | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), "credbroker-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}): run as root to test a full disk` };
  }
}

const token = (i: number) => ({ kind: { case: "bearerToken" as const, value: { token: `${i}-${randomBytes(12 * 1024).toString("base64")}` } } });

const mounted = await mountSmallTmpfs();
const skip = "skip" in mounted ? mounted.skip : undefined;
if (skip !== undefined) {
  if (process.env["CI"] === "true") {
    throw new Error(`the full-disk test must run under CI: ${skip}`);
  }
  console.log(`skipping the full-disk test: ${skip}`);
}

describe.skipIf(skip !== undefined)("a full disk under the LMDB store", () => {
  const mountDir = "dir" in mounted ? mounted.dir : "";
  let tb: TestBroker;
  beforeAll(async () => {
    const dataDir = join(mountDir, "data");
    await mkdir(dataDir);
    tb = await startTestBroker({ dataDir, logLevel: "info" });
  });
  afterAll(async () => {
    // lmdb's close waits for the commit that failed, which never ends: give it a moment, then detach the mount
    await Promise.race([tb?.close({ keepData: true }), new Promise((resolve) => setTimeout(resolve, 2000))]);
    execFileSync("umount", ["-l", mountDir]);
    await rm(mountDir, { recursive: true, force: true });
  });

  it("refuses writes with RESOURCE_EXHAUSTED saying the store is full, and keeps serving reads", async () => {
    const admin = tb.connect(SecretService, tb.adminToken);
    const created: string[] = [];
    let refusal: ConnectError | undefined;
    for (let i = 0; i < 1000 && refusal === undefined; i++) {
      const name = `fill-${String(i).padStart(4, "0")}`;
      try {
        await admin.createSecret({ mode: Mode.TEST, name, credentials: token(i) });
        created.push(name);
      } catch (error) {
        refusal = ConnectError.from(error);
      }
    }
    console.log(`store full after ${created.length} secrets of ~16 KiB on a 2 MiB tmpfs: ${refusal?.code === undefined ? "no refusal" : Code[refusal.code]}: ${refusal?.rawMessage}`);
    expect(created.length).toBeGreaterThan(10);
    expect(refusal?.code).toBe(Code.ResourceExhausted);
    expect(refusal?.rawMessage).toMatch(/store is full/);

    // reads keep serving, on both listeners
    const inject = tb.connect(InjectService);
    for (const name of [created[0]!, created[created.length - 1]!]) {
      const res = await inject.inject({ mode: Mode.TEST, name });
      expect(res.secret?.name).toBe(name);
      expect((await admin.getSecret({ mode: Mode.TEST, name })).secret?.version).toBe(1n);
    }
    const listed: string[] = [];
    let pageToken = "";
    do {
      const page = await admin.listSecrets({ mode: Mode.TEST, pageSize: 100, pageToken });
      listed.push(...page.secrets.map((s) => s.name));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(listed).toEqual(created);
    const grpcInject = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const viaGrpc = await grpcInject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: created[0]! });
    expect(viaGrpc.ok).toBe(true);
    grpcInject.close();

    // with nothing deleted the broker still serves: another write is refused the same way, over gRPC too
    const grpcAdmin = createGrpcJsClient(SecretService, tb.broker.grpcAddress, tb.adminToken);
    const again = await grpcAdmin.call("CreateSecret", CreateSecretRequestSchema, CreateSecretResponseSchema, {
      mode: Mode.TEST,
      name: "one-more",
      credentials: token(-1),
    });
    grpcAdmin.close();
    expect(again).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
    expect((await inject.inject({ mode: Mode.TEST, name: created[1]! })).secret?.name).toBe(created[1]);
  });
});
