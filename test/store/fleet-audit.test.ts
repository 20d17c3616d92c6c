/**
 * The fleet's audit log: every sidecar's events, written locally first and
 * shipped to PostgreSQL, are listed by ListAuditEvents on any sidecar, each
 * naming its sidecar; none is lost or doubled across a PostgreSQL outage
 * and a sidecar killed (-9) and started again.
 */
import { Code, type Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { allAuditEvents } from "../support/audit-events.ts";
import { type Sidecar, bearer, fleetSuite, outcome, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("the fleet's audit events");

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let a: Sidecar;
  let b: Sidecar;

  beforeAll(async () => {
    [a, b] = await setup.fleet.startAll(["audit-a", "audit-b"]);
  }, 60_000);

  it("lists every sidecar's events on any sidecar, each once and naming its sidecar, across a PostgreSQL outage and a kill -9", { timeout: 90_000 }, async () => {
    await a.secrets.createSecret({ mode: Mode.TEST, name: "audited", credentials: bearer("audited-value") }, { headers: { "x-request-id": "setup-create" } });
    await waitUntil("b serves audited", async () => (await outcome(b.inject.inject({ mode: Mode.TEST, name: "audited" }))).code === "ok");
    /** Every answered call's request id, and the sidecar that answered it. */
    const answered = new Map<string, string>([["setup-create", a.instanceId]]);
    let calls = 0;

    /** Inject loops (Connect and gRPC) on each sidecar for `ms`, or until `until` resolves; a loop ends at its first failure. */
    async function load(sidecars: Sidecar[], ms: number, phase: string, during?: () => Promise<void>): Promise<void> {
      let stop = false;
      const loops = sidecars.flatMap((sidecar) =>
        (["inject", "injectGrpc"] as const).map(async (protocol) => {
          const client: Client<typeof InjectService> = sidecar[protocol];
          for (let n = 0; !stop; n++) {
            const requestId = `${phase}-${sidecar.instanceId}-${protocol}-${n}`;
            calls++;
            try {
              await client.inject({ mode: Mode.TEST, name: "audited" }, { headers: { "x-request-id": requestId } });
            } catch {
              break;
            }
            answered.set(requestId, sidecar.instanceId);
          }
        }),
      );
      await Promise.all([new Promise((resolve) => setTimeout(resolve, ms)), during?.()]);
      stop = true;
      await Promise.all(loops);
    }

    /** An admin write through a sidecar with a request id; its answer (ok or refused) has an event either way. */
    async function write(sidecar: Sidecar, requestId: string, name: string): Promise<Code | "ok"> {
      calls++;
      const result = await outcome(sidecar.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(name) }, { headers: { "x-request-id": requestId } }));
      answered.set(requestId, sidecar.instanceId);
      return result.code;
    }

    await load([a, b], 800, "before");
    expect(await write(b, "write-before", "w-before")).toBe("ok");

    setup.postgres.stop();
    const duringOutage: (Code | "ok")[] = [];
    await load([a, b], 1500, "outage", async () => {
      duringOutage.push(await write(a, "write-outage-a", "w-outage-a"), await write(b, "write-outage-b", "w-outage-b"));
    });
    setup.postgres.start();
    expect(duringOutage).toEqual([Code.Unavailable, Code.Unavailable]);
    await load([a, b], 500, "after-outage");

    // b killed under load: what it wrote before its answers is in its data dir, shipped by its next start
    await load([a, b], 1000, "kill", async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await b.kill();
    });
    b = await setup.fleet.start("audit-b", { dataDir: b.dataDir });
    await load([a, b], 500, "restarted");
    expect(await write(b, "write-restarted", "w-restarted")).toBe("ok");

    const ids = [...answered.keys()];
    expect(ids.filter((id) => id.startsWith("outage-audit-b")).length).toBeGreaterThan(0);
    expect(ids.filter((id) => id.startsWith("kill-audit-b")).length).toBeGreaterThan(0);
    const start = performance.now();
    for (const sidecar of [a, b]) {
      let missing: string[] = [];
      let doubled: string[] = [];
      let misnamed: string[] = [];
      await waitUntil(
        `${sidecar.instanceId} lists every answered call's event once`,
        async () => {
          const events = await allAuditEvents(sidecar.audit);
          const byRequest = new Map<string, string[]>();
          for (const event of events) {
            byRequest.set(event.requestId, [...(byRequest.get(event.requestId) ?? []), event.instanceId]);
          }
          missing = ids.filter((id) => !byRequest.has(id));
          doubled = [...byRequest].filter(([, instances]) => instances.length > 1).map(([id]) => id);
          misnamed = ids.filter((id) => byRequest.has(id) && byRequest.get(id)![0] !== answered.get(id));
          return missing.length === 0 && doubled.length === 0 && misnamed.length === 0;
        },
        20_000,
        250,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}: missing ${missing.length} (${missing.slice(0, 5).join(", ")}), doubled ${doubled.length} (${doubled.slice(0, 5).join(", ")}), misnamed ${misnamed.length}`);
      });
    }
    // the name filter runs in PostgreSQL on the names shipped with each event
    const named = await allAuditEvents(b.audit, { name: "w-before" });
    expect(named.map((event) => `${event.method} ${event.code} ${event.instanceId}`)).toEqual([
      `credbroker.v1.SecretService/CreateSecret ok ${b.instanceId}`,
    ]);
    const listCall = await b.secrets.listSecrets({ mode: Mode.TEST }, { headers: { "x-request-id": "a-list-naming-nothing" } });
    expect(listCall.secrets.length).toBeGreaterThan(0);
    await waitUntil("a lists b's ListSecrets event, which names no secret", async () =>
      (await allAuditEvents(a.audit)).some((event) => event.requestId === "a-list-naming-nothing" && event.secrets.length === 0),
    );
    const events = await allAuditEvents(a.audit);
    const perSidecar = Object.fromEntries([a, b].map((s) => [s.instanceId, events.filter((e) => e.instanceId === s.instanceId).length]));
    console.log(
      `fleet audit: ${calls} calls, ${answered.size} answered (of them ${ids.filter((id) => id.startsWith("outage")).length} during the outage, ` +
        `${ids.filter((id) => id.startsWith("kill")).length} in the kill -9 phase); every one listed once on both sidecars with its instance ` +
        `${Math.round(performance.now() - start)} ms after the last; events per sidecar ${JSON.stringify(perSidecar)}`,
    );
  });
});
