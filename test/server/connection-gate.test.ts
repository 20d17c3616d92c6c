import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { Health, HealthCheckRequestSchema, HealthCheckResponseSchema } from "../../src/gen/health/v1/health_pb.ts";
import { defaultConnectionLimits, defaultMaxConnections } from "../../src/server/connection-limits.ts";
import { serviceSpec } from "../../src/server/service-listener.ts";
import { startGrpcListener } from "../../src/server/grpc-js/grpc-listener.ts";
import type { Listener } from "../../src/server/service-listener.ts";
import { createHealthService } from "../../src/server/health-service.ts";
import { createHealthState } from "../../src/server/health-state.ts";
import { startHttpListener } from "../../src/server/http-listener.ts";
import { startBrokerProcess } from "../support/broker-process.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

const apiKey = (value: string) => ({ kind: { case: "apiKey" as const, value: { keyName: "X-Api-Key", keyValue: value } } });

/** Idle connections held open against a listener: each reads (so that it sees the broker close it) and sends `bytes`, maybe nothing. */
async function holdIdle(address: string, count: number, bytes: string): Promise<{ closed(): number; destroy(): void }> {
  const colon = address.lastIndexOf(":");
  const sockets: net.Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) }, () => {
            if (bytes !== "") {
              socket.write(bytes);
            }
            resolve();
          });
          socket.on("error", () => resolve());
          socket.on("close", () => {
            closed++;
            resolve();
          });
          socket.resume();
          sockets.push(socket);
        }),
    ),
  );
  return { closed: () => closed, destroy: () => sockets.forEach((socket) => socket.destroy()) };
}

/** Waits until `done()` holds; the bound is generous, for a timeout to have fired on a busy machine. */
async function eventually(done: () => boolean, boundMs: number): Promise<void> {
  const until = Date.now() + boundMs;
  while (!done() && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A partial HTTP/2 preface, then nothing; and a full one, then nothing: neither starts a call. */
const halfPreface = "PRI * HTTP/2.0\r\n";
const silentKinds = [
  { kind: "silent", bytes: "", count: 150 },
  { kind: "half a preface", bytes: halfPreface, count: 50 },
];

describe("connection cap and silent connections", () => {
  let svc: TestServices;
  const listeners: Listener[] = [];
  let grpcAddress: string;
  let httpAddress: string;
  const limits = { ...defaultConnectionLimits, maxConnections: 20, firstCallTimeoutMs: 1000 };
  beforeAll(async () => {
    svc = await createTestServices();
    await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "capped", credentials: apiKey("capped-value") });
    const services = [serviceSpec(SecretService, svc.secrets), serviceSpec(InjectService, svc.inject)];
    const health = createHealthState([InjectService]);
    const systemServices = [serviceSpec(Health, createHealthService(health))];
    const common = { address: "127.0.0.1:0", services, interceptors: [], maxRequestBytes: 1024 * 1024, systemServices, limits };
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

  it("Injects on both listeners over gRPC and Connect while hundreds of idle connections are held, and closes the silent ones", { timeout: 60_000 }, async () => {
    // a call in flight: a health Watch on each listener's gRPC, which the cap must not close
    const watches = [grpcAddress, httpAddress].map((address) => {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      const call = client.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        (request: Uint8Array) => Buffer.from(request),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })),
      );
      let ended: string | undefined;
      call.on("error", (error: grpc.ServiceError) => (ended = grpc.status[error.code]));
      call.on("end", () => (ended ??= "end"));
      return { client, call, ended: () => ended, first: new Promise((resolve) => call.once("data", resolve)) };
    });
    await Promise.all(watches.map((watch) => watch.first));

    const held: { address: string; kind: string; closed(): number; destroy(): void; count: number }[] = [];
    for (const address of [grpcAddress, httpAddress]) {
      for (const { kind, bytes, count } of silentKinds) {
        held.push({ address, kind, count, ...(await holdIdle(address, count, bytes)) });
      }
    }
    const injects: Record<string, string | undefined> = {};
    const grpcJs = createGrpcJsClient(InjectService, grpcAddress);
    const viaGrpcJs = await grpcJs.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "capped" });
    injects["grpc-js on the gRPC listener"] = viaGrpcJs.ok && viaGrpcJs.message.material.case === "http" ? viaGrpcJs.message.material.value.headers[0]?.value : undefined;
    grpcJs.close();
    for (const [what, transport] of [
      ["connect-node gRPC on the gRPC listener", createGrpcTransport({ baseUrl: `http://${grpcAddress}` })],
      ["Connect HTTP/1.1 on the HTTP listener", createConnectTransport({ baseUrl: `http://${httpAddress}`, httpVersion: "1.1" })],
      ["Connect HTTP/2 on the HTTP listener", createConnectTransport({ baseUrl: `http://${httpAddress}`, httpVersion: "2" })],
      ["gRPC on the HTTP listener", createGrpcTransport({ baseUrl: `http://${httpAddress}` })],
    ] as const) {
      const res = await createClient(InjectService, transport).inject({ mode: Mode.TEST, name: "capped" });
      injects[what] = res.material.case === "http" ? res.material.value.headers[0]?.value : undefined;
    }
    console.log(`while ${held.reduce((n, h) => n + h.count, 0)} idle connections were held (cap 20 per listener): ${JSON.stringify(injects)}`);
    for (const value of Object.values(injects)) {
      expect(value).toBe("capped-value");
    }

    const total = (h: (typeof held)[number]) => h.count;
    await eventually(() => held.every((h) => h.closed() === total(h)), 20_000);
    console.log(held.map((h) => `${h.address} ${h.kind}: ${h.closed()}/${h.count} closed by the listener`).join("; "));
    for (const h of held) {
      expect(h.closed(), `${h.address} ${h.kind}`).toBe(h.count);
    }
    for (const watch of watches) {
      expect(watch.ended()).toBeUndefined();
      watch.call.cancel();
      watch.client.close();
    }
  });
});

describe("the cap setting", () => {
  it("is half the open-files limit less a reserve, between 16 and 4096", () => {
    const limits = (soft: string) => () => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                  ${soft}                  files\n`;
    expect(defaultMaxConnections(limits("256"))).toBe(64);
    expect(defaultMaxConnections(limits("1024"))).toBe(448);
    expect(defaultMaxConnections(limits("1048576"))).toBe(4096);
    expect(defaultMaxConnections(limits("unlimited"))).toBe(4096);
    expect(defaultMaxConnections(limits("100"))).toBe(16);
    expect(
      defaultMaxConnections(() => {
        throw new Error("ENOENT");
      }),
    ).toBe(448);
  });
});

describe("a broker process under ulimit -n 256", () => {
  it("keeps Injecting on both listeners while 300 idle connections are held to the gRPC port, and closes them", { timeout: 60_000 }, async () => {
    const broker = await startBrokerProcess({ maxOpenFiles: 256 });
    try {
      const admin = createClient(SecretService, createConnectTransport({ baseUrl: `http://${broker.httpAddress}`, httpVersion: "1.1" }));
      await admin.createSecret(
        { mode: Mode.TEST, name: "ulimit", credentials: apiKey("ulimit-value") },
        { headers: { authorization: `Bearer ${broker.adminToken}` } },
      );
      const grpcFlood = await holdIdle(broker.grpcAddress, 300, "");
      const httpFlood = await holdIdle(broker.httpAddress, 100, halfPreface);
      const metricsFlood = await holdIdle(broker.metricsAddress, 100, "");
      const values: string[] = [];
      for (const transport of [
        createGrpcTransport({ baseUrl: `http://${broker.grpcAddress}` }),
        createConnectTransport({ baseUrl: `http://${broker.httpAddress}`, httpVersion: "1.1" }),
        createConnectTransport({ baseUrl: `http://${broker.httpAddress}`, httpVersion: "2" }),
      ]) {
        const res = await createClient(InjectService, transport).inject({ mode: Mode.TEST, name: "ulimit" }, { timeoutMs: 10_000 });
        values.push(res.material.case === "http" ? (res.material.value.headers[0]?.value ?? "") : "");
      }
      expect(values).toEqual(["ulimit-value", "ulimit-value", "ulimit-value"]);
      // the default first-call timeout (10 s) closes what the cap has not
      await eventually(() => grpcFlood.closed() === 300 && httpFlood.closed() === 100 && metricsFlood.closed() === 100, 40_000);
      console.log(
        `ulimit -n 256: Injects answered; closed by the broker: gRPC ${grpcFlood.closed()}/300, HTTP ${httpFlood.closed()}/100, metrics ${metricsFlood.closed()}/100`,
      );
      expect([grpcFlood.closed(), httpFlood.closed(), metricsFlood.closed()]).toEqual([300, 100, 100]);
      expect(broker.child.exitCode).toBeNull();
      expect(broker.stderr()).not.toMatch(/EMFILE/);
      expect(broker.stderr()).toContain("listener at its connection cap");
    } finally {
      await broker.stop();
    }
  });
});
