/**
 * A fleet sidecar tells where its replica stands: `credbroker health` (its
 * second line), StatusService (no token) and the replica metrics, while
 * PostgreSQL serves and while it is down.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { StatusService } from "../../src/gen/credbroker/v1/status_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { runCli } from "../support/run-cli.ts";
import { type Sidecar, bearer, fleetSuite, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("a fleet sidecar's status");
const urlPassword = `pg-canary-${randomBytes(8).toString("hex")}`;

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let sidecar: Sidecar;

  beforeAll(async () => {
    // trust authentication never asks for it: a password that must appear in no log line, outage or not
    sidecar = await setup.fleet.start("status-a", { env: { CREDBROKER_POSTGRES_URL: setup.fleet.url.replace("postgres@", `postgres:${urlPassword}@`) } });
  }, 60_000);

  const metric = async (name: string) => {
    const text = await (await fetch(`http://${sidecar.process.metricsAddress}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  };

  it("shows the replica connected and current, then cut off while PostgreSQL is down, still SERVING", { timeout: 60_000 }, async () => {
    for (const name of ["one", "two", "three"]) {
      await sidecar.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(`status-${name}`) });
    }
    const status = createClient(StatusService, createGrpcTransport({ baseUrl: `http://${sidecar.process.grpcAddress}` }));
    const up = await status.getStatus({});
    expect(up.fleet).toBe(true);
    expect(up.instanceId).toBe("status-a");
    // the keyring and three creates: four revisions, all applied
    expect(up.replica?.appliedRevision).toBe(4n);
    expect(up.replica?.lagRevisions).toBe(0n);
    expect(up.replica?.connected).toBe(true);
    const health = await runCli(["health", "--addr", sidecar.process.grpcAddress], {});
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(/^SERVING\nfleet sidecar status-a: replica connected, revision 4 of 4 \(lag 0\), current \d+\.\d s ago\n$/);
    expect(await metric("credbroker_replica_connected")).toBe(1);
    expect(await metric("credbroker_replica_applied_revision")).toBe(4);

    setup.postgres.stop();
    try {
      // the head check runs every 2 s
      const noticed = await waitUntil("the replica notices the outage", async () => (await status.getStatus({})).replica?.connected === false, 10_000, 100);
      const down = await runCli(["health", "--addr", sidecar.process.grpcAddress], {});
      console.log(`fleet status: the outage noticed after ${Math.round(noticed)} ms; credbroker health said: ${down.stdout.trim().split("\n")[1]}`);
      expect(down.code).toBe(0);
      expect(down.stdout).toContain("replica NOT connected to the central store (serving what it holds; writes refused), revision 4 of 4");
      expect(await metric("credbroker_replica_connected")).toBe(0);
      expect(await metric("credbroker_replica_age_seconds")).toBeGreaterThan(0);
    } finally {
      setup.postgres.start();
    }
    await waitUntil("the replica is back", async () => (await status.getStatus({})).replica?.connected === true, 15_000, 100);
    const log = sidecar.process.stderr();
    expect(log).toContain("cannot read the central store");
    for (const form of [urlPassword, Buffer.from(urlPassword).toString("base64"), Buffer.from(urlPassword).toString("hex")]) {
      expect(log).not.toContain(form);
    }
  });
});
