/**
 * A flood of calls refused before any known token was presented, over real
 * listeners (Connect and gRPC) into a real LMDB: retention keeps those
 * refusals under a cap of their own, so the events of authenticated callers
 * stay; the refusals that are kept stay visible in ListAuditEvents, and a
 * metric counts all of them. No token or value reaches an event or a metric.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { AuditEventSchema, AuditService, CallerKind, type AuditEvent } from "../../src/gen/credbroker/v1/audit_service_pb.ts";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { ListSecretsRequestSchema, ListSecretsResponseSchema, SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";
import { allAuditEvents } from "../support/audit-events.ts";
import { connectCodeOf } from "../support/error-code.ts";

const injectToken = { value: "refused-calls-inject-token-0c41e9a7d2", source: "test" };
const canaryToken = "CANARY-TOKEN-9d2e-never-recorded-anywhere";
const canaryPassword = "CANARY-PW-51ab-never-recorded-anywhere";

let tb: TestBroker | undefined;
afterEach(async () => {
  await tb?.close();
  tb = undefined;
});

function allEvents(broker: TestBroker): Promise<AuditEvent[]> {
  return allAuditEvents(broker.connect(AuditService, broker.adminToken));
}

/** Runs `total` calls, `width` at a time. */
async function flood(total: number, width: number, call: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < total; i += width) {
    await Promise.all(Array.from({ length: Math.min(width, total - i) }, (_, j) => call(i + j)));
  }
}

/** Lists the audit log until retention has brought the refused events within `cap` (bounded tries, no timing). */
async function afterRetention(broker: TestBroker, cap: number): Promise<AuditEvent[]> {
  let events: AuditEvent[] = [];
  for (let tries = 0; tries < 100; tries++) {
    events = await allEvents(broker);
    if (events.filter((e) => e.caller?.kind === CallerKind.NONE).length <= cap) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return events;
}

/** The value of one sample of the metrics text, 0 when absent. */
function sample(metrics: string, series: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("refused calls in the audit log", () => {
  it("cannot evict the events of authenticated callers, stay visible within their own cap, and are counted", async () => {
    // a main cap of 200 leaves a refused cap of 20 (a tenth); the flood is 4,400 calls
    tb = await startTestBroker({ injectToken, auditMaxEvents: 200 }, { auditRetentionIntervalMs: 20 });
    const admin = tb.connect(SecretService, tb.adminToken);
    await admin.createSecret({
      mode: Mode.TEST,
      name: "stripe",
      credentials: { kind: { case: "basicAuth", value: { username: "svc", password: canaryPassword } } },
    });
    await tb.connect(InjectService, injectToken.value).inject({ mode: Mode.TEST, name: "stripe" });
    const grpcJs = createGrpcJsClient(SecretService, tb.broker.grpcAddress);
    const grpcInject = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    const injected = await grpcInject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.TEST, name: "stripe" }, {
      token: injectToken.value,
    });
    expect(injected.ok).toBe(true);

    const anonymous = tb.connect(SecretService);
    const wrongToken = tb.connect(InjectService, canaryToken, "2");
    await flood(2000, 50, async () => expect(await connectCodeOf(anonymous.listSecrets({ mode: Mode.TEST }))).toBe(Code.Unauthenticated));
    await flood(200, 50, async () => expect(await connectCodeOf(wrongToken.inject({ mode: Mode.TEST, name: "stripe" }))).toBe(Code.Unauthenticated));
    await flood(2000, 50, async (i) => {
      const answer = await grpcJs.call("ListSecrets", ListSecretsRequestSchema, ListSecretsResponseSchema, { mode: Mode.TEST }, {
        ...(i % 2 === 0 ? { token: canaryToken } : {}),
      });
      expect(answer.ok ? "ok" : answer.code).toBe(Code.Unauthenticated);
    });
    await flood(200, 50, async () => {
      const answer = await grpcInject.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode: Mode.LIVE, name: "stripe" });
      expect(answer.ok ? "ok" : answer.code).toBe(Code.Unauthenticated);
    });
    grpcJs.close();
    grpcInject.close();

    const events = await afterRetention(tb, 20);
    const real = events.filter((e) => e.caller?.kind !== CallerKind.NONE && !e.method.endsWith("/ListAuditEvents"));
    expect(real.map((e) => `${e.method.replace("credbroker.v1.", "")}:${e.code}:${e.secrets.map((s) => s.name).join()}`)).toEqual([
      "SecretService/CreateSecret:ok:stripe",
      "InjectService/Inject:ok:stripe",
      "InjectService/Inject:ok:stripe",
    ]);
    // the newest refusals are still there to see, within their cap, in sequence order with the rest
    const refused = events.filter((e) => e.caller?.kind === CallerKind.NONE);
    expect(refused.length).toBe(20);
    expect(refused.every((e) => e.code === "unauthenticated")).toBe(true);
    expect(refused.at(-1)?.method).toBe("credbroker.v1.InjectService/Inject");
    const sequences = events.map((e) => e.sequence);
    expect([...sequences].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequences);
    for (const event of events) {
      expect(toJsonString(AuditEventSchema, event)).not.toContain("CANARY");
    }

    const metrics = await (await fetch(`http://${tb.broker.metricsAddress}/metrics`)).text();
    const refusals = (service: string, method: string) =>
      sample(metrics, `credbroker_refused_calls_total{service="credbroker.v1.${service}",method="${method}",code="Unauthenticated"}`);
    expect(refusals("SecretService", "ListSecrets")).toBe(4000);
    expect(refusals("InjectService", "Inject")).toBe(400);
    expect(refusals("SecretService", "CreateSecret")).toBe(0);
    // labels name methods and codes only: no token, no secret name, no peer
    const refusalLines = metrics.split("\n").filter((l) => l.startsWith("credbroker_refused_calls_total"));
    expect(refusalLines.join("\n")).not.toMatch(/CANARY|stripe|127\.0\.0\.1/);
    expect(metrics).not.toContain("CANARY");
  });

  it("keeps a foreign web page's refused open Injects apart too, while admitted open Injects stay", async () => {
    // no inject token: Inject is open, so the browser guard's PERMISSION_DENIED is all that stops a page
    tb = await startTestBroker({ auditMaxEvents: 100, auditMaxRefusedEvents: 3 }, { auditRetentionIntervalMs: 20 });
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.TEST,
      name: "open",
      credentials: { kind: { case: "bearerToken", value: { token: canaryPassword } } },
    });
    await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "open" });
    const page = createClient(
      InjectService,
      createConnectTransport({
        baseUrl: `http://${tb.broker.httpAddress}`,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("origin", "https://attacker.example");
            return next(req);
          },
        ],
      }),
    );
    await flood(500, 50, async () => expect(await connectCodeOf(page.inject({ mode: Mode.TEST, name: "open" }))).toBe(Code.PermissionDenied));

    const events = (await afterRetention(tb, 4)).filter((e) => !e.method.endsWith("/ListAuditEvents"));
    expect(events.map((e) => `${e.method.split("/")[1]}:${e.code}`)).toEqual([
      "CreateSecret:ok",
      "Inject:ok",
      "Inject:permission_denied",
      "Inject:permission_denied",
      "Inject:permission_denied",
    ]);
    const metrics = await (await fetch(`http://${tb.broker.metricsAddress}/metrics`)).text();
    expect(
      sample(metrics, 'credbroker_refused_calls_total{service="credbroker.v1.InjectService",method="Inject",code="PermissionDenied"}'),
    ).toBe(500);
  });
});
