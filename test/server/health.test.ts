import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListRequestSchema,
  HealthListResponseSchema,
  type HealthCheckResponse,
} from "../../src/gen/health/v1/health_pb.ts";
import { serviceSpec } from "../../src/server/service-listener.ts";
import { startGrpcListener } from "../../src/server/grpc-js/grpc-listener.ts";
import type { Listener } from "../../src/server/service-listener.ts";
import { createHealthService } from "../../src/server/health-service.ts";
import { createHealthState, type HealthState } from "../../src/server/health-state.ts";
import { startHttpListener } from "../../src/server/http-listener.ts";
import { bufCurl } from "../support/buf-curl.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

/** The folder of the health proto in the package it is generated from. */
const healthProto = join(import.meta.dirname, "../../node_modules/grpc-health-check/proto");
const served = ["", "credbroker.v1.SecretService", "credbroker.v1.KeyService", "credbroker.v1.AuditService", "credbroker.v1.InjectService"];
const injectToken = { value: "inject-token-for-health-tests-3c9e", source: "test" };

/** A Watch stream: the statuses received so far, the first of them, and how the call ended. */
interface WatchCall {
  readonly statuses: ServingStatus[];
  readonly first: Promise<void>;
  readonly ended: Promise<{ ok: boolean; code: number }>;
}

/** Health/Watch through a classic @grpc/grpc-js client, as grpc-go's and grpc-java's probes call it. */
function watchOverGrpcJs(address: string, service: string): WatchCall {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeServerStreamRequest(
    "/grpc.health.v1.Health/Watch",
    (message: ReturnType<typeof create<typeof HealthCheckRequestSchema>>) => Buffer.from(toBinary(HealthCheckRequestSchema, message)),
    (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
    create(HealthCheckRequestSchema, { service }),
    new grpc.Metadata(),
  );
  const statuses: ServingStatus[] = [];
  const first = new Promise<void>((resolve) =>
    call.on("data", (response: HealthCheckResponse) => {
      statuses.push(response.status);
      resolve();
    }),
  );
  call.on("error", () => {
    // the status event below carries the outcome
  });
  const ended = new Promise<{ ok: boolean; code: number }>((resolve) =>
    call.on("status", (status: grpc.StatusObject) => {
      client.close();
      resolve({ ok: status.code === grpc.status.OK, code: status.code });
    }),
  );
  return { statuses, first, ended };
}

/** Health/Watch through a Connect client (any transport). */
function watchOverConnect(client: Client<typeof Health>, service: string): WatchCall {
  const statuses: ServingStatus[] = [];
  let resolveFirst!: () => void;
  const first = new Promise<void>((resolve) => (resolveFirst = resolve));
  const ended = (async () => {
    try {
      for await (const response of client.watch({ service })) {
        statuses.push(response.status);
        resolveFirst();
      }
      return { ok: true, code: 0 };
    } catch (error) {
      return { ok: false, code: ConnectError.from(error).code as number };
    }
  })();
  return { statuses, first, ended };
}

describe("Health on a running broker whose services all require tokens", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker({ injectToken });
  });
  afterAll(async () => {
    await tb.close();
  });

  it("requires the tokens it should, so that the health answers below prove health needs none", async () => {
    const inject = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    expect(await inject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "x" })).toMatchObject({
      ok: false,
      code: grpc.status.UNAUTHENTICATED,
    });
    inject.close();
    await expect(tb.connect(SecretService).listSecrets({ mode: Mode.TEST })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("answers Check SERVING over a classic grpc-js client with no token, for the broker and each service", async () => {
    const health = createGrpcJsClient(Health, tb.broker.grpcAddress);
    for (const service of served) {
      const result = await health.call("Check", HealthCheckRequestSchema, HealthCheckResponseSchema, { service });
      expect(result.ok && result.message.status).toBe(ServingStatus.SERVING);
    }
    const unknown = await health.call("Check", HealthCheckRequestSchema, HealthCheckResponseSchema, { service: "no.such.Service" });
    expect(unknown).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND });
    const list = await health.call("List", HealthListRequestSchema, HealthListResponseSchema, {});
    expect(list.ok && Object.keys(list.message.statuses).sort()).toEqual([...served].sort());
    health.close();
  });

  it("answers INVALID_ARGUMENT, not INTERNAL, to an undecodable Check or Watch over grpc-js", async () => {
    const client = new grpc.Client(tb.broker.grpcAddress, grpc.credentials.createInsecure());
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const identity = (bytes: Buffer) => bytes;
    const check = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", identity, identity, garbage, new grpc.Metadata(), (error) => resolve(error)),
    );
    expect(check?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const watch = client.makeServerStreamRequest("/grpc.health.v1.Health/Watch", identity, identity, garbage, new grpc.Metadata());
    watch.on("error", () => {});
    expect(await new Promise<number>((resolve) => watch.on("status", (status: grpc.StatusObject) => resolve(status.code)))).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    client.close();
  });

  it("answers Check over Connect (HTTP/1.1 and HTTP/2) and gRPC on the HTTP listener, with no token", async () => {
    const clients = [
      tb.connect(Health, undefined, "1.1"),
      tb.connect(Health, undefined, "2"),
      createClient(Health, createGrpcTransport({ baseUrl: `http://${tb.broker.httpAddress}` })),
    ];
    for (const client of clients) {
      for (const service of served) {
        expect((await client.check({ service })).status).toBe(ServingStatus.SERVING);
      }
      await expect(client.check({ service: "credbroker.v1.Nothing" })).rejects.toMatchObject({ code: Code.NotFound });
      expect(Object.keys((await client.list({})).statuses).sort()).toEqual([...served].sort());
    }
  });

  it("answers a plain curl-style JSON Check and List on the HTTP listener", async () => {
    const post = (method: string, body: unknown) =>
      fetch(`http://${tb.broker.httpAddress}/grpc.health.v1.Health/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const ok = await post("Check", {});
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: "SERVING" });
    const missing = await post("Check", { service: "nope" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "not_found" });
    const list = await post("List", {});
    expect(await list.json()).toEqual({
      statuses: Object.fromEntries(served.map((name) => [name, { status: "SERVING" }])),
    });
  });

  it("answers a Go gRPC client's Check on the gRPC port, schema compiled in as a Kubernetes grpc probe has it", async () => {
    // buf curl with --schema: no reflection, only the health proto, as a probe knows it
    const probe = ["--schema", healthProto, "--protocol", "grpc", "--http2-prior-knowledge"];
    const run = await bufCurl([
      ...probe,
      "-d", '{"service":"credbroker.v1.InjectService"}',
      `http://${tb.broker.grpcAddress}/grpc.health.v1.Health/Check`,
    ]);
    expect(run).toMatchObject({ code: 0 });
    expect(JSON.parse(run.stdout)).toEqual({ status: "SERVING" });
    const unknown = await bufCurl([
      ...probe,
      "-d", '{"service":"nope"}',
      `http://${tb.broker.grpcAddress}/grpc.health.v1.Health/Check`,
    ]);
    expect(unknown.code).not.toBe(0);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ code: "not_found" });
  });
});

describe("Health while the broker drains", () => {
  it("sends NOT_SERVING to every Watch stream when close() begins, then ends them, on both listeners", async () => {
    const tb = await startTestBroker({ injectToken });
    const grpcAddress = tb.broker.grpcAddress;
    const httpBase = `http://${tb.broker.httpAddress}`;
    const watches = {
      grpcJs: watchOverGrpcJs(grpcAddress, ""),
      grpcJsService: watchOverGrpcJs(grpcAddress, "credbroker.v1.SecretService"),
      connectHttp1: watchOverConnect(tb.connect(Health, undefined, "1.1"), "credbroker.v1.InjectService"),
      connectHttp2: watchOverConnect(tb.connect(Health, undefined, "2"), ""),
      grpcOnHttpListener: watchOverConnect(createClient(Health, createGrpcTransport({ baseUrl: httpBase })), ""),
      grpcOverConnect: watchOverConnect(tb.grpcOverConnect(Health), ""),
    };
    const unknown = watchOverGrpcJs(grpcAddress, "no.such.Service");
    await Promise.all([...Object.values(watches), unknown].map((watch) => watch.first));
    for (const watch of Object.values(watches)) {
      expect(watch.statuses).toEqual([ServingStatus.SERVING]);
    }
    expect(unknown.statuses).toEqual([ServingStatus.SERVICE_UNKNOWN]);

    // a long grace: open Watch streams must end by themselves rather than hold the listeners open
    await tb.broker.close(60_000);
    for (const [name, watch] of Object.entries(watches)) {
      expect({ name, ended: await watch.ended }).toEqual({ name, ended: { ok: true, code: 0 } });
      expect({ name, statuses: watch.statuses }).toEqual({ name, statuses: [ServingStatus.SERVING, ServingStatus.NOT_SERVING] });
    }
    expect(await unknown.ended).toEqual({ ok: true, code: 0 });
    expect(unknown.statuses).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    await rm(tb.dataDir, { recursive: true, force: true });
  });
});

describe("the health service over its state, through createRouterTransport", () => {
  it("is NOT_SERVING until set, SERVING when set, and NOT_SERVING for good after shutdown", async () => {
    const state = createHealthState([SecretService, InjectService]);
    const client = createClient(Health, createRouterTransport((router) => router.service(Health, createHealthService(state))));
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    state.set(ServingStatus.SERVING);
    expect((await client.check({ service: "credbroker.v1.InjectService" })).status).toBe(ServingStatus.SERVING);

    const watch = watchOverConnect(client, "credbroker.v1.SecretService");
    await watch.first;
    state.shutdown();
    expect(await watch.ended).toEqual({ ok: true, code: 0 });
    expect(watch.statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    // draining: Check tells probes to go away, and nothing turns it back
    state.set(ServingStatus.SERVING);
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await client.list({})).statuses["credbroker.v1.InjectService"]?.status).toBe(ServingStatus.NOT_SERVING);
    // a Watch started during the drain gets the status, then its end
    const late = watchOverConnect(client, "");
    expect(await late.ended).toEqual({ ok: true, code: 0 });
    expect(late.statuses).toEqual([ServingStatus.NOT_SERVING]);
  });

  it("stops a Watch when its client cancels it on either listener, and unsubscribes it", async () => {
    const state = createHealthState([InjectService]);
    let subscribed = 0;
    const counted: HealthState = {
      get: (service) => state.get(service),
      entries: () => state.entries(),
      set: (status) => state.set(status),
      shutdown: () => state.shutdown(),
      get isShutDown() {
        return state.isShutDown;
      },
      subscribe(listener) {
        subscribed++;
        const unsubscribe = state.subscribe(listener);
        return () => {
          subscribed--;
          unsubscribe();
        };
      },
    };
    const systemServices = [serviceSpec(Health, createHealthService(counted))];
    const options = { address: "127.0.0.1:0", services: [], interceptors: [], maxRequestBytes: 1024 * 1024, systemServices };
    const listeners = [await startGrpcListener(options), await startHttpListener(options)];
    try {
      const [grpcListener, httpListener] = listeners as [Listener, Listener];
      const grpcJs = new grpc.Client(grpcListener.address, grpc.credentials.createInsecure());
      const call = grpcJs.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        (bytes: Uint8Array) => Buffer.from(bytes),
        (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
        toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })),
        new grpc.Metadata(),
      );
      call.on("error", () => {});
      const cancelled = new Promise<number>((resolve) => call.on("status", (status: grpc.StatusObject) => resolve(status.code)));
      await new Promise((resolve) => call.once("data", resolve));

      const abort = new AbortController();
      const connect = createClient(Health, createConnectTransport({ baseUrl: `http://${httpListener.address}`, httpVersion: "2" }));
      const seen: ServingStatus[] = [];
      const aborted = (async () => {
        try {
          for await (const response of connect.watch({ service: "" }, { signal: abort.signal })) {
            seen.push(response.status);
            if (seen.length === 1) {
              state.set(ServingStatus.SERVING);
            } else {
              abort.abort();
            }
          }
        } catch (error) {
          return ConnectError.from(error).code;
        }
        return undefined;
      })();
      expect(await aborted).toBe(Code.Canceled);
      expect(seen).toEqual([ServingStatus.NOT_SERVING, ServingStatus.SERVING]);

      call.cancel();
      expect(await cancelled).toBe(grpc.status.CANCELLED);
      grpcJs.close();
      await expect.poll(() => subscribed).toBe(0);
    } finally {
      await Promise.all(listeners.map((listener) => listener.close(1000)));
    }
  });
});
