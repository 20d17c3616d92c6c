import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { InjectRequestSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { maxConcurrentStreamsPerConnection } from "../../src/server/connection-limits.ts";
import { serviceSpec } from "../../src/server/service-listener.ts";
import { startGrpcListener } from "../../src/server/grpc-js/grpc-listener.ts";
import type { Listener } from "../../src/server/service-listener.ts";
import { startHttpListener } from "../../src/server/http-listener.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-Api-Key", keyValue: value } } });

/** A gRPC frame: flag byte, 4-byte length, message. */
function grpcFrame(message: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function connectH2(address: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.once("error", reject);
    session.once("remoteSettings", () => resolve(session));
  });
}

/** One HTTP/2 request; resolves with the response headers, trailers and body. */
function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array,
): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks) }));
    stream.end(body);
  });
}

const injectBody = (name: string) => toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name }));

describe("limits of the broker's listeners (defaults)", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
    await tb.connect(SecretService, tb.adminToken).createSecret({ mode: Mode.TEST, name: "limits", credentials: apiKey("v") });
  });
  afterAll(async () => {
    await tb.close();
  });

  it("advertises the concurrent-stream cap in SETTINGS on both listeners", async () => {
    for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
      const session = await connectH2(address);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(maxConcurrentStreamsPerConnection);
      session.close();
    }
  });

  it("answers RESOURCE_EXHAUSTED to a request over 1 MiB on both listeners", async () => {
    const huge = "x".repeat(1024 * 1024 + 10);
    const big = toBinary(InjectRequestSchema, create(InjectRequestSchema, { mode: Mode.TEST, name: huge }));
    const session = await connectH2(tb.broker.grpcAddress);
    const res = await h2Request(session, { ":path": "/credbroker.v1.InjectService/Inject", "content-type": "application/grpc", te: "trailers" }, grpcFrame(big));
    session.close();
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("8");
    const http = await fetch(`http://${tb.broker.httpAddress}/credbroker.v1.InjectService/Inject`, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: big,
    });
    expect(http.headers.get("content-type")).toContain("json");
    expect(await http.json()).toMatchObject({ code: "resource_exhausted" });
  });

  it("answers DEADLINE_EXCEEDED to a gRPC call whose deadline has already passed", async () => {
    const session = await connectH2(tb.broker.grpcAddress);
    const res = await h2Request(
      session,
      { ":path": "/credbroker.v1.InjectService/Inject", "content-type": "application/grpc", te: "trailers", "grpc-timeout": "1n" },
      grpcFrame(injectBody("limits")),
    );
    session.close();
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("4");
  });

  it("honours the Connect timeout: an expired timeoutMs answers deadline_exceeded", async () => {
    // a live timeout is passed on: the call completes within it
    expect((await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "limits" }, { timeoutMs: 5000 })).secret?.name).toBe("limits");
    const res = await fetch(`http://${tb.broker.httpAddress}/credbroker.v1.InjectService/Inject`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "0" },
      body: JSON.stringify({ mode: "MODE_TEST", name: "limits" }),
    });
    expect(await res.json()).toMatchObject({ code: "deadline_exceeded" });
  });
});

describe("limits of listeners started with short ones", () => {
  let svc: TestServices;
  const listeners: Listener[] = [];
  let grpcAddress: string;
  let httpAddress: string;
  const limits = { maxConcurrentStreams: 4, idleTimeoutMs: 200 };
  beforeAll(async () => {
    svc = await createTestServices();
    await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "short", credentials: apiKey("v") });
    const services = [serviceSpec(SecretService, svc.secrets), serviceSpec(InjectService, svc.inject)];
    const common = { address: "127.0.0.1:0", services, interceptors: [], maxRequestBytes: 1024 * 1024, limits };
    const grpcListener = await startGrpcListener(common);
    const httpListener = await startHttpListener(common);
    listeners.push(grpcListener, httpListener);
    grpcAddress = grpcListener.address;
    httpAddress = httpListener.address;
  });
  afterAll(async () => {
    await Promise.all(listeners.map((listener) => listener.close(0)));
    await svc.close();
  });

  it("caps concurrent streams per connection: SETTINGS say so, and calls beyond the cap wait their turn", async () => {
    for (const [address, headers, body] of [
      [grpcAddress, { ":path": "/credbroker.v1.InjectService/Inject", "content-type": "application/grpc", te: "trailers" }, grpcFrame(injectBody("short"))],
      [httpAddress, { ":path": "/credbroker.v1.InjectService/Inject", "content-type": "application/proto" }, injectBody("short")],
    ] as const) {
      const session = await connectH2(address);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(limits.maxConcurrentStreams);
      const results = await Promise.all(Array.from({ length: limits.maxConcurrentStreams * 4 }, () => h2Request(session, headers, body)));
      for (const res of results) {
        expect(res.headers[":status"]).toBe(200);
        expect(res.trailers["grpc-status"] ?? "0").toBe("0");
      }
      session.close();
    }
  });

  it("closes an idle HTTP/2 connection on both listeners", async () => {
    for (const address of [grpcAddress, httpAddress]) {
      const session = await connectH2(address);
      const started = Date.now();
      const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
      const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
      await Promise.race([goaway, closed]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(limits.idleTimeoutMs - 20);
      session.destroy();
    }
  });

  it("closes an idle HTTP/1.1 keep-alive connection, and a connection that never sends a byte", async () => {
    const agent = new http.Agent({ keepAlive: true });
    const socketClosed = await new Promise<Promise<void>>((resolve, reject) => {
      const req = http.request(
        { host: httpAddress.split(":")[0], port: Number(httpAddress.split(":")[1]), path: "/credbroker.v1.InjectService/Inject", method: "POST", agent, headers: { "content-type": "application/json" } },
        (res) => {
          expect(res.statusCode).toBe(200);
          res.resume();
          resolve(new Promise<void>((done) => req.socket!.once("close", () => done())));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ mode: "MODE_TEST", name: "short" }));
    });
    await socketClosed;
    agent.destroy();
    const { createConnection } = await import("node:net");
    const silent = createConnection({ host: httpAddress.split(":")[0]!, port: Number(httpAddress.split(":")[1]) });
    await new Promise<void>((resolve) => silent.once("close", () => resolve()));
  });
});
