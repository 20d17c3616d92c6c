/**
 * A sidecar that was not running while the fleet changed catches up when it
 * starts, before it serves; killed (-9) in the middle of a catch-up, it
 * starts again from a consistent replica and finishes it.
 */
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { open } from "lmdb";
import { openLmdbStore } from "../../src/store/lmdb-store.ts";
import { type Sidecar, bearer, centralRecords, fleetSuite, inParallel, injectedToken, replicaDifferences, useFleet } from "../support/fleet.ts";

const suite = fleetSuite("a sidecar that missed changes");

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let a: Sidecar;
  let b: Sidecar;

  beforeAll(async () => {
    [a, b] = await setup.fleet.startAll(["catch-up-a", "catch-up-b"]);
  }, 60_000);

  /** The central revision, and the one a stopped sidecar's replica holds. */
  const headRevision = () => BigInt(setup.fleet.sql(`SELECT revision FROM ${setup.fleet.schema}.state`).trim());
  function appliedRevision(dataDir: string): bigint {
    const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
    try {
      return store.replicaPosition()?.revision ?? 0n;
    } finally {
      void store.close();
    }
  }

  it("catches up on creates, updates, deploys and deletes made while it was stopped, before it serves", { timeout: 60_000 }, async () => {
    await inParallel(40, 8, (i) => a.secrets.createSecret({ mode: Mode.TEST, name: `early-${i}`, credentials: bearer(`early-${i}-v1`) }));
    await a.secrets.deploySecrets({ names: Array.from({ length: 20 }, (_, i) => `early-${i}`) });
    expect(await replicaDifferences(setup.fleet, b)).toEqual([]);
    expect(await b.stop()).toBe(0);

    await inParallel(100, 16, (i) => a.secrets.createSecret({ mode: Mode.TEST, name: `missed-${i}`, credentials: bearer(`missed-${i}`) }));
    await inParallel(20, 8, (i) => a.secrets.updateSecret({ mode: Mode.TEST, name: `early-${i}`, credentials: bearer(`early-${i}-v2`) }));
    await inParallel(20, 8, (i) => a.secrets.deleteSecret({ mode: Mode.TEST, name: `early-${20 + i}` }));
    // deleted and created again while it was away: a new secret of the old name
    await a.secrets.deleteSecret({ mode: Mode.TEST, name: "early-0" });
    await a.secrets.createSecret({ mode: Mode.TEST, name: "early-0", credentials: bearer("early-0-reborn") });
    await a.secrets.deploySecrets({ names: ["early-1", "missed-0"] });

    const start = performance.now();
    b = await setup.fleet.start("catch-up-b", { dataDir: b.dataDir });
    const serving = performance.now() - start;
    // its first answers are already the fleet's
    expect(await injectedToken(b.inject, Mode.TEST, "early-0")).toBe("early-0-reborn");
    expect(await injectedToken(b.inject, Mode.TEST, "early-25")).toBe("NOT_FOUND");
    expect(await injectedToken(b.injectGrpc, Mode.LIVE, "early-1")).toBe("early-1-v2");
    expect(await injectedToken(b.injectGrpc, Mode.LIVE, "early-2")).toBe("early-2-v1");
    expect(await injectedToken(b.inject, Mode.TEST, "missed-99")).toBe("missed-99");
    expect(await replicaDifferences(setup.fleet, b)).toEqual([]);
    console.log(`fleet catch-up: a sidecar stopped during 164 writes (20 deletes) served the fleet's state ${Math.round(serving)} ms after its start (process start included)`);
  });

  it("is consistent after a kill -9 in the middle of a catch-up of 3000 changes, and finishes it on the next start", { timeout: 90_000 }, async () => {
    expect(await b.stop()).toBe(0);
    const from = appliedRevision(b.dataDir);
    const writeStart = performance.now();
    await inParallel(1500, 32, (i) => a.secrets.createSecret({ mode: Mode.TEST, name: `bulk-${String(i).padStart(4, "0")}`, credentials: bearer(`bulk-${i}`) }));
    const names = Array.from({ length: 1500 }, (_, i) => `bulk-${String(i).padStart(4, "0")}`);
    await a.secrets.deploySecrets({ names: names.slice(0, 1000) });
    await a.secrets.deploySecrets({ names: names.slice(1000) });
    const writeMs = performance.now() - writeStart;
    const head = headRevision();
    const changed = [...centralRecords(setup.fleet).keys()].filter((key) => key.includes("/bulk-")).length;
    expect(changed).toBe(3000);

    // a read-only handle on its replica sees each page as it commits: the first one is the moment to kill it
    const root = open({ path: join(b.dataDir, "credbroker.mdb"), readOnly: true, maxDbs: 8 });
    const meta = root.openDB<Uint8Array, string>({ name: "meta", encoding: "binary" });
    const position = () => BigInt((JSON.parse(Buffer.from(meta.get("replica/position")!).toString()) as { revision: string }).revision);
    let child: ChildProcess | undefined;
    let killedAt: bigint | undefined;
    let killMs = 0;
    const started = setup.fleet.start("catch-up-b", { dataDir: b.dataDir, onSpawn: (spawned) => (child = spawned) }).then(
      () => "served",
      () => "ended before serving",
    );
    const spawned = performance.now();
    while (killedAt === undefined && child?.exitCode === null && performance.now() - spawned < 30_000) {
      const applied = position();
      if (applied > from) {
        child.kill("SIGKILL");
        killedAt = applied;
        killMs = performance.now() - spawned;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await started).toBe("ended before serving");
    const afterKill = position();
    root.close();
    expect(afterKill, `killed at ${killedAt}, replica from ${from} to head ${head}`).toBeGreaterThan(from);
    expect(afterKill, "the kill landed before the catch-up's end").toBeLessThan(head);

    const start = performance.now();
    b = await setup.fleet.start("catch-up-b", { dataDir: b.dataDir });
    const serving = performance.now() - start;
    expect(await replicaDifferences(setup.fleet, b)).toEqual([]);
    expect(await injectedToken(b.injectGrpc, Mode.LIVE, "bulk-1499")).toBe("bulk-1499");
    console.log(
      `fleet kill -9 mid-catch-up: 3000 changes written in ${Math.round(writeMs)} ms; replica at revision ${from}, head ${head}; ` +
        `killed -9 ${Math.round(killMs)} ms after its spawn with the replica at revision ${afterKill}; the next start served a consistent replica after ${Math.round(serving)} ms`,
    );
  });
});
