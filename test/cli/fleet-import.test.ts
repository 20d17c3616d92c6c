import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startBrokerProcess } from "../support/broker-process.ts";
import { postgresAvailable, startPostgres, type RunningPostgres } from "../support/postgres.ts";
import { runCli } from "../support/run-cli.ts";
import { startSlowRelay } from "../support/slow-relay.ts";

const availability = postgresAvailable();

function clients(httpAddress: string, adminToken: string) {
  const transport = createConnectTransport({
    baseUrl: `http://${httpAddress}`,
    httpVersion: "1.1",
    interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${adminToken}`), next(req))],
  });
  return { secrets: createClient(SecretService, transport), inject: createClient(InjectService, transport) };
}

describe.skipIf(!availability.available)(`credbroker fleet import${availability.available ? "" : ` (skipped: ${availability.reason})`}`, () => {
  let pg: RunningPostgres;
  let url = "";
  let dataDir = "";
  const value = `import-value-${randomBytes(6).toString("hex")}`;

  beforeAll(async () => {
    pg = await startPostgres();
    url = pg.database("fleet_import");
    dataDir = await mkdtemp(join(tmpdir(), "credbroker-import-"));
  }, 60_000);

  afterAll(async () => {
    await pg?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("moves a standalone data dir into an empty central store, sealed as it is; a second import and a served data dir are refused", { timeout: 90_000 }, async () => {
    const standalone = await startBrokerProcess({ dataDir });
    const admin = clients(standalone.httpAddress, standalone.adminToken);
    for (const name of ["alpha", "beta", "gamma"]) {
      await admin.secrets.createSecret({ mode: Mode.TEST, name, credentials: { kind: { case: "bearerToken", value: { token: `${value}-${name}` } } } });
    }
    await admin.secrets.deploySecrets({ names: ["beta"] });
    await admin.secrets.updateSecret({ mode: Mode.TEST, name: "gamma", description: "updated before the import" });

    const busy = await runCli(["fleet", "import", "--data-dir", dataDir], { CREDBROKER_POSTGRES_URL: url });
    expect(busy.code, busy.stderr).toBe(2);
    expect(busy.stderr).toContain("stop it before the fleet import");
    await standalone.stop();

    const imported = await runCli(["fleet", "import", "--data-dir", dataDir], { CREDBROKER_POSTGRES_URL: url });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("imported 4 records");
    expect(imported.stderr).not.toContain(url);
    // the central store holds the records as sealed bytes: no value in any column
    const dump = pg.sql("SELECT encode(record, 'hex') FROM credbroker.records", "fleet_import");
    expect(dump.split("\n").filter((line) => line !== "")).toHaveLength(4);
    expect(dump).not.toContain(Buffer.from(value).toString("hex"));

    const again = await runCli(["fleet", "import", "--data-dir", dataDir], { CREDBROKER_POSTGRES_URL: url });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already holds data");

    // the standalone data dir itself cannot become a replica: a replica starts by dropping what it holds
    const masterKey = (await readFile(join(dataDir, "master.key"), "utf8")).trim();
    const adminToken = randomBytes(24).toString("base64url");
    const fleetEnv = { CREDBROKER_POSTGRES_URL: url, CREDBROKER_MASTER_KEY: masterKey, CREDBROKER_ADMIN_TOKEN: adminToken };
    const onStandalone = await runCli(["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--http-listen", "off", "--metrics-listen", "off"], fleetEnv);
    expect(onStandalone.code).toBe(1);
    expect(onStandalone.stderr).toContain("holds a standalone broker's data");

    // a sidecar with the data dir's master key and a fresh data dir serves what was imported
    const sidecar = await startBrokerProcess({
      env: { ...fleetEnv, CREDBROKER_INSTANCE_ID: "imported-1" },
    });
    try {
      const fleet = clients(sidecar.httpAddress, adminToken);
      const live = await fleet.inject.inject({ mode: Mode.LIVE, name: "beta", step: StepKind.HTTP });
      expect(live.material.case).toBe("http");
      expect(JSON.stringify(live.material.value)).toContain(`${value}-beta`);
      const gamma = await fleet.secrets.getSecret({ mode: Mode.TEST, name: "gamma" });
      expect(gamma.secret?.version).toBe(2n);
      expect(gamma.secret?.description).toBe("updated before the import");
      const listed = await fleet.secrets.listSecrets({ mode: Mode.TEST });
      expect(listed.secrets.map((secret) => secret.name)).toEqual(["alpha", "beta", "gamma"]);
    } finally {
      await sidecar.stop();
    }
  });

  it("imports 2,000 records into a PostgreSQL 8 ms of round trip away in a few statements, not two round trips a record", { timeout: 120_000 }, async () => {
    const bigDir = await mkdtemp(join(tmpdir(), "credbroker-import-big-"));
    const relay = await startSlowRelay(pg.port, 4);
    try {
      const standalone = await startBrokerProcess({ dataDir: bigDir });
      const admin = clients(standalone.httpAddress, standalone.adminToken);
      const names = Array.from({ length: 2000 }, (_, i) => `bulk-${String(i).padStart(4, "0")}`);
      for (let i = 0; i < names.length; i += 50) {
        await Promise.all(
          names.slice(i, i + 50).map((name) => admin.secrets.createSecret({ mode: Mode.TEST, name, credentials: { kind: { case: "bearerToken", value: { token: `bulk-${name}` } } } })),
        );
      }
      await standalone.stop();
      const farUrl = pg.database("fleet_import_far").replace(`:${pg.port}/`, `:${relay.port}/`);
      const started = performance.now();
      const imported = await runCli(["fleet", "import", "--data-dir", bigDir], { CREDBROKER_POSTGRES_URL: farUrl });
      const ms = performance.now() - started;
      console.log(`fleet import of 2,000 records through a relay of 8 ms a round trip: ${ms.toFixed(0)} ms`);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stderr).toContain("imported 2000 records");
      // a record a statement would be 4,000 round trips: 32 s
      expect(ms).toBeLessThan(10_000);
      expect(pg.sql("SELECT count(*), count(DISTINCT revision), min(name), max(name) FROM credbroker.records", "fleet_import_far").trim()).toBe("2000|1|bulk-0000|bulk-1999");
    } finally {
      await relay.close();
      await rm(bigDir, { recursive: true, force: true });
    }
  });
});
