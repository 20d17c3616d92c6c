/**
 * Fail closed on a full disk: once the audit segment's space is used up and
 * the disk has no room for the next one, Inject is refused with
 * RESOURCE_EXHAUSTED on both listeners; with room again it serves, and every
 * Inject that was answered has its event.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { allAuditEvents } from "../support/audit-events.ts";

/** A 4 MiB tmpfs as the data dir's file system, or why there is none. */
async function mountSmallTmpfs(): Promise<{ dir: string } | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), "credbroker-audit-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "pipe" });
    return { dir };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}): run as root to test a full disk` };
  }
}

/** Fills the file system of `path` to the last byte; returns the filler's path. */
async function fill(path: string): Promise<string> {
  const filler = join(path, "filler");
  const file = await open(filler, "w");
  try {
    for (const size of [64 * 1024, 4096, 512, 1]) {
      try {
        for (;;) {
          await file.write(Buffer.alloc(size, 1));
        }
      } catch (error) {
        expect((error as { code?: unknown }).code).toBe("ENOSPC");
      }
    }
  } finally {
    await file.close();
  }
  return filler;
}

const mounted = await mountSmallTmpfs();
const skip = "skip" in mounted ? mounted.skip : undefined;
if (skip !== undefined) {
  if (process.env["CI"] === "true") {
    throw new Error(`the audit full-disk test must run under CI: ${skip}`);
  }
  console.log(`skipping the audit full-disk test: ${skip}`);
}

describe.skipIf(skip !== undefined)("a full disk under the audit segments", () => {
  const mountDir = "dir" in mounted ? mounted.dir : "";
  let tb: TestBroker;
  beforeAll(async () => {
    const dataDir = join(mountDir, "data");
    await mkdir(dataDir);
    // segments of 16 KiB: the one in use lasts about a hundred events
    tb = await startTestBroker({ dataDir, logLevel: "info" }, { auditSegmentBytes: 16 * 1024 });
  });
  afterAll(async () => {
    // lmdb's close may wait for a commit the full disk failed: give it a moment, then detach the mount
    await Promise.race([tb?.close({ keepData: true }), new Promise((resolve) => setTimeout(resolve, 2000))]);
    execFileSync("umount", ["-l", mountDir]);
    await rm(mountDir, { recursive: true, force: true });
  });

  it("refuses Inject with RESOURCE_EXHAUSTED once no segment can be written, and serves again with room", async () => {
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "full",
      credentials: { kind: { case: "bearerToken", value: { token: "disk-full-test-token" } } },
    });
    const filler = await fill(mountDir);
    const inject = tb.connect(InjectService);
    const grpcJs = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const answered: string[] = [];
    let connectRefusal: Code | undefined;
    let grpcRefusal: number | undefined;
    for (let i = 0; i < 2000 && (connectRefusal === undefined || grpcRefusal === undefined); i++) {
      const requestId = `full-${i}`;
      if (i % 2 === 0) {
        try {
          await inject.inject({ mode: Mode.TEST, name: "full" }, { headers: { "x-request-id": requestId } });
          answered.push(requestId);
        } catch (error) {
          connectRefusal = ConnectError.from(error).code;
        }
      } else {
        const res = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "full" }, {
          metadata: { "x-request-id": requestId },
        });
        if (res.ok) {
          answered.push(requestId);
        } else {
          grpcRefusal = res.code;
        }
      }
    }
    console.log(`disk full: ${answered.length} Injects answered from the segment's reserved space, then refused`);
    expect(answered.length).toBeGreaterThan(10);
    expect(connectRefusal).toBe(Code.ResourceExhausted);
    expect(grpcRefusal).toBe(Code.ResourceExhausted);

    await rm(filler);
    await inject.inject({ mode: Mode.TEST, name: "full" }, { headers: { "x-request-id": "room-again" } });
    expect((await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "full" })).ok).toBe(true);
    grpcJs.close();
    const events = await allAuditEvents(tb.connect(AuditService, tb.adminToken));
    const injects = events.filter((e) => e.method.endsWith("/Inject") && e.code === "ok").map((e) => e.requestId);
    expect(injects.slice(0, answered.length + 1)).toEqual([...answered, "room-again"]);
  });
});
