import { execFileSync } from "node:child_process";
import { lstat, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createAuthInterceptor } from "../../src/server/auth-interceptor.ts";
import { createLogInterceptor } from "../../src/server/log-interceptor.ts";
import { createLogger } from "../../src/server/logger.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { createTestServices, type TestServices } from "../support/services.ts";
import { Writable } from "node:stream";
import { tamperFromAnotherProcess, updateFromAnotherProcess } from "../support/second-handle.ts";

const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-Api-Key", keyValue: value } } });

function headerOf(res: { material: { case: string | undefined; value?: unknown } }): string | undefined {
  return res.material.case === "http" ? (res.material.value as { headers: { value: string }[] }).headers[0]?.value : undefined;
}

describe("through createRouterTransport, with the broker's interceptors", () => {
  let svc: TestServices;
  beforeAll(async () => {
    svc = await createTestServices();
  });
  afterAll(async () => {
    await svc.close();
  });

  it("serves both services and enforces the admin token", async () => {
    const lines: string[] = [];
    const logger = createLogger("info", new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const interceptors = [
      createLogInterceptor(logger),
      createAuthInterceptor({ adminToken: "admin-tok", injectToken: undefined, adminServices: [SecretService], injectServices: [InjectService] }),
    ];
    const transport = createRouterTransport(
      (router) => {
        router.service(SecretService, svc.secrets);
        router.service(InjectService, svc.inject);
      },
      { router: { interceptors } },
    );
    const admin = createClient(SecretService, transport);
    await expect(admin.createSecret({ mode: Mode.TEST, name: "rt", credentials: apiKey("v1") })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    await admin.createSecret({ mode: Mode.TEST, name: "rt", credentials: apiKey("v1") }, { headers: { authorization: "Bearer admin-tok" } });
    const res = await createClient(InjectService, transport).inject({ mode: Mode.TEST, name: "rt" });
    expect(headerOf(res)).toBe("v1");
    expect(lines.join("")).toContain('"method":"credbroker.v1.InjectService/Inject"');
  });
});

describe("real listeners on port 0", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
    await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.LIVE, name: "svc-key", credentials: apiKey("live-value") });
  });
  afterAll(async () => {
    await tb.close();
  });

  it("serves Inject over the Connect protocol on HTTP/1.1 and HTTP/2", async () => {
    for (const version of ["1.1", "2"] as const) {
      const res = await tb.connect(InjectService, undefined, version).inject({ mode: Mode.LIVE, name: "svc-key" });
      expect(headerOf(res)).toBe("live-value");
      expect(res.secret?.version).toBe(1n);
    }
  });

  it("serves gRPC and gRPC-Web on the HTTP listener, and gRPC on the gRPC listener", async () => {
    const base = `http://${tb.broker.httpAddress}`;
    for (const transport of [createGrpcTransport({ baseUrl: base }), createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" })]) {
      expect(headerOf(await createClient(InjectService, transport).inject({ mode: Mode.LIVE, name: "svc-key" }))).toBe("live-value");
    }
    expect(headerOf(await tb.grpcOverConnect(InjectService).inject({ mode: Mode.LIVE, name: "svc-key" }))).toBe("live-value");
  });

  it("serves a classic @grpc/grpc-js client, with metadata auth and gRPC status codes", async () => {
    const inject = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const ok = await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.LIVE, name: "svc-key", step: StepKind.HTTP });
    expect(ok.ok && headerOf(ok.message)).toBe("live-value");
    const missing = await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "svc-key" });
    expect(missing).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND });
    expect(!missing.ok && missing.details).toContain('"svc-key" not found in test mode');
    const invalid = await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.LIVE, name: "Bad Name" });
    expect(invalid).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    inject.close();
  });

  it("answers INVALID_ARGUMENT, not INTERNAL, to an undecodable gRPC body", async () => {
    const client = new grpc.Client(tb.broker.grpcAddress, grpc.credentials.createInsecure());
    const status = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        "/credbroker.v1.InjectService/Inject",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        new grpc.Metadata(),
        (error) => resolve(error),
      );
    });
    client.close();
    expect(status?.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("serves plain HTTP/1.1 JSON as curl sends it", async () => {
    const res = await fetch(`http://${tb.broker.httpAddress}/credbroker.v1.InjectService/Inject`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "MODE_LIVE", name: "svc-key" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ http: { headers: [{ name: "X-Api-Key", value: "live-value" }] } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("notices a change written by another handle on the store, which sends it no change event", async () => {
    await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.TEST, name: "elsewhere", credentials: apiKey("before") });
    expect(headerOf(await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "elsewhere" }))).toBe("before");
    await updateFromAnotherProcess(tb.dataDir, tb.masterKey, { mode: Mode.TEST, name: "elsewhere", credentials: apiKey("after") });
    expect(headerOf(await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "elsewhere" }))).toBe("after");
  });

  it("answers DATA_LOSS for a record whose sealed payload was tampered with, on both listeners", async () => {
    // a secret not injected yet: material already cached was authenticated when it was opened
    await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.LIVE, name: "tampered", credentials: apiKey("x") });
    await tamperFromAnotherProcess(tb.dataDir, Mode.LIVE, "tampered", { field: "ciphertext", at: -3, mask: 0x04 });
    const err = await tb.connect(InjectService).inject({ mode: Mode.LIVE, name: "tampered" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.DataLoss);
    const grpcResult = await createGrpcJsClient(InjectService, tb.broker.grpcAddress).call("Inject", InjectRequestSchema, InjectResponseSchema, {
      mode: Mode.LIVE,
      name: "tampered",
    });
    expect(grpcResult).toMatchObject({ ok: false, code: grpc.status.DATA_LOSS });
    expect(tb.logs()).toMatch(/"level":50.*"code":"DataLoss"/);
  });
});

describe("unix socket listeners", () => {
  it("serves both listeners on unix sockets, replacing a stale socket file left by a crash", async () => {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-sock-"));
    const grpcPath = join(dir, "grpc.sock");
    const httpPath = join(dir, "http.sock");
    // a process that binds and exits without unlinking leaves a stale socket, as a crash does
    for (const path of [grpcPath, httpPath]) {
      execFileSync("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
      expect((await lstat(path)).isSocket()).toBe(true);
    }
    const tb = await startTestBroker({ listen: `unix:${grpcPath}`, httpListen: `unix:${httpPath}` });
    try {
      expect(tb.broker.grpcAddress).toBe(`unix:${grpcPath}`);
      await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.TEST, name: "sock", credentials: apiKey("over-unix") });
      const viaGrpcJs = await createGrpcJsClient(InjectService, `unix://${grpcPath}`).call("Inject", InjectRequestSchema, InjectResponseSchema, {
        mode: Mode.TEST,
        name: "sock",
      });
      expect(viaGrpcJs.ok && headerOf(viaGrpcJs.message)).toBe("over-unix");
      expect(headerOf(await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "sock" }))).toBe("over-unix");
      // a second broker must not steal a socket that a live one still serves
      await expect(startTestBroker({ listen: "127.0.0.1:0", httpListen: `unix:${httpPath}` })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await tb.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
