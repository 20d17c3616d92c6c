/**
 * A sidecar whose PostgreSQL is a network hop away: every write must end
 * within the write budget (3 s), so a commit's round trips must not grow
 * with the names it writes. Here the sidecar reaches PostgreSQL through a
 * TCP relay that holds each chunk 4 ms each way (8 ms a round trip); a
 * deploy of 1,000 names, the most one call takes, commits in time (written
 * name by name, each name's check and change cost four round trips: ~32 s).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { startSlowRelay, type SlowRelay } from "../support/slow-relay.ts";
import { type Sidecar, bearer, fleetSuite, inParallel, injectedToken, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("a sidecar 8 ms of round trip away from PostgreSQL");

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let near: Sidecar;
  let far: Sidecar;
  let relay: SlowRelay;

  beforeAll(async () => {
    [near] = await setup.fleet.startAll(["near"]);
    relay = await startSlowRelay(setup.postgres.port, 4);
    const url = setup.fleet.url.replace(`:${setup.postgres.port}/`, `:${relay.port}/`);
    far = await setup.fleet.start("far", { env: { CREDBROKER_POSTGRES_URL: url } });
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
  });

  it("deploys 1,000 names in one commit within the write budget, and every sidecar serves them", async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `far-${String(i).padStart(4, "0")}`);
    await inParallel(names.length, 16, (i) => near.secrets.createSecret({ mode: Mode.TEST, name: names[i]!, credentials: bearer(`value-${i}`) }));
    await waitUntil("the far sidecar lists the 1,000 test secrets", async () => (await far.secrets.listSecrets({ mode: Mode.TEST, pageSize: 1 })).totalSize === 1000, 30_000, 50);
    const started = performance.now();
    const deployed = await far.secrets.deploySecrets({ names });
    const ms = performance.now() - started;
    console.log(`DeploySecrets of 1,000 names through a relay of 8 ms a round trip: ${ms.toFixed(0)} ms`);
    expect(deployed.secrets.map((secret) => secret.name)).toEqual(names);
    expect(ms).toBeLessThan(3000);
    await waitUntil("the near sidecar lists the 1,000 live secrets", async () => (await near.secrets.listSecrets({ mode: Mode.LIVE, pageSize: 1 })).totalSize === 1000, 10_000, 20);
    // each live record holds what its test secret held, on both sidecars
    for (const sidecar of [near, far]) {
      for (const i of [0, 499, 999]) {
        expect(await injectedToken(sidecar.inject, Mode.LIVE, names[i]!)).toBe(`value-${i}`);
      }
    }
  }, 120_000);
});
