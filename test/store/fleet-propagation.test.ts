/**
 * Fleet mode with real parts: three `credbroker serve` processes on one
 * PostgreSQL. A change made through one sidecar is served by the others;
 * expected versions are checked in PostgreSQL; a secret deleted and created
 * again is never served with its old value once a sidecar has moved on.
 */
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { type Sidecar, bearer, fleetSuite, injectedToken, outcome, spread, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("a fleet of three sidecars on one PostgreSQL");

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let a: Sidecar;
  let b: Sidecar;
  let c: Sidecar;

  beforeAll(async () => {
    [a, b, c] = await setup.fleet.startAll(["sidecar-a", "sidecar-b", "sidecar-c"]);
  }, 60_000);

  /** Milliseconds from a write's answer until every other sidecar's Inject serves `expected`. */
  async function propagation(others: Sidecar[], mode: Mode, name: string, expected: string): Promise<number[]> {
    return Promise.all(
      others.map((sidecar) => waitUntil(`${sidecar.instanceId} serves ${mode}/${name} = ${expected}`, async () => (await injectedToken(sidecar.inject, mode, name)) === expected, 5_000, 2)),
    );
  }

  it("serves on every sidecar what one created, updated, deployed and deleted", async () => {
    const times: Record<string, number[]> = { create: [], update: [], deploy: [], delete: [] };
    for (let i = 0; i < 10; i++) {
      const name = `p-${i}`;
      await a.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(`created-${i}`) });
      times["create"]!.push(...(await propagation([b, c], Mode.TEST, name, `created-${i}`)));
      await a.secrets.updateSecret({ mode: Mode.TEST, name, credentials: bearer(`updated-${i}`) });
      times["update"]!.push(...(await propagation([b, c], Mode.TEST, name, `updated-${i}`)));
      await a.secrets.deploySecrets({ names: [name] });
      times["deploy"]!.push(...(await propagation([b, c], Mode.LIVE, name, `updated-${i}`)));
      await a.secrets.deleteSecret({ mode: Mode.TEST, name });
      times["delete"]!.push(...(await propagation([b, c], Mode.TEST, name, "NOT_FOUND")));
      // the live copy outlives its test secret
      expect(await injectedToken(c.injectGrpc, Mode.LIVE, name)).toBe(`updated-${i}`);
    }
    // the admin reads answer the same from the replica
    const listed = await b.secrets.listSecrets({ mode: Mode.LIVE, pageSize: 100 });
    expect(listed.secrets.map((s) => s.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p-${i}`).sort());
    expect((await c.secrets.listSecrets({ mode: Mode.TEST, pageSize: 100 })).secrets).toEqual([]);
    const got = await c.secrets.getSecret({ mode: Mode.LIVE, name: "p-3" });
    expect(got.secret?.version).toBe((await a.secrets.getSecret({ mode: Mode.LIVE, name: "p-3" })).secret?.version);
    for (const [change, ms] of Object.entries(times)) {
      console.log(`fleet propagation, ${change} on one sidecar until served by Inject on 2 others: ${spread(ms)}`);
    }
  });

  it("lets one of two sidecars updating at the same expected version win; the other is ABORTED", async () => {
    await a.secrets.createSecret({ mode: Mode.TEST, name: "contended", credentials: bearer("v1") });
    await propagation([b, c], Mode.TEST, "contended", "v1");
    const wins: Record<string, number> = { [a.instanceId]: 0, [b.instanceId]: 0 };
    for (let round = 0; round < 10; round++) {
      const version = (await a.secrets.getSecret({ mode: Mode.TEST, name: "contended" })).secret!.version;
      const [fromA, fromB] = await Promise.all(
        [a, b].map((sidecar) =>
          outcome(sidecar.secrets.updateSecret({ mode: Mode.TEST, name: "contended", expectedVersion: version, credentials: bearer(`${sidecar.instanceId}-${round}`) })),
        ),
      );
      const codes = [fromA!.code, fromB!.code].sort();
      expect(codes, `round ${round}`).toEqual(["ok", Code.Aborted].sort());
      const winner = fromA!.code === "ok" ? a : b;
      wins[winner.instanceId]!++;
      // every sidecar settles on the winner's value, and the loser's never appears
      await propagation([a, b, c], Mode.TEST, "contended", `${winner.instanceId}-${round}`);
      expect((await c.secrets.getSecret({ mode: Mode.TEST, name: "contended" })).secret!.version).toBe(version + 1n);
    }
    console.log(`fleet expected-version race, 10 rounds: wins ${JSON.stringify(wins)}, one ABORTED each round`);
  });

  it("never serves a deleted value again once a sidecar has moved past it, while the secret is deleted and created again", { timeout: 60_000 }, async () => {
    const name = "reborn";
    const rounds = 40;
    await a.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer("gen-0") });
    await propagation([b, c], Mode.TEST, name, "gen-0");
    let stop = false;
    type Answer = { at: number; value: string };
    const answers = new Map<string, Answer[]>();
    const pollers = [b, c].flatMap((sidecar) =>
      (["inject", "injectGrpc"] as const).map(async (protocol) => {
        const key = `${sidecar.instanceId}/${protocol}`;
        const seen: Answer[] = [];
        answers.set(key, seen);
        while (!stop) {
          seen.push({ at: performance.now(), value: await injectedToken(sidecar[protocol], Mode.TEST, name) });
        }
      }),
    );
    let stale = 0;
    for (let gen = 1; gen <= rounds; gen++) {
      await a.secrets.deleteSecret({ mode: Mode.TEST, name });
      await a.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(`gen-${gen}`) });
      // read-your-writes on the writing sidecar: its next Inject answers the new value
      const own = await injectedToken(a.injectGrpc, Mode.TEST, name);
      if (own !== `gen-${gen}`) {
        stale++;
      }
      if (gen % 10 === 0) {
        // now and then let the others catch up, so that both quick and settled re-creates are seen
        await propagation([b, c], Mode.TEST, name, `gen-${gen}`);
      }
    }
    await propagation([b, c], Mode.TEST, name, `gen-${rounds}`);
    stop = true;
    await Promise.all(pollers);
    expect(stale, "the writing sidecar served an old value after its re-create was answered").toBe(0);
    let total = 0;
    let notFound = 0;
    for (const [key, seen] of answers) {
      // per poller: a value, then NOT_FOUND (its delete applied), then only a later value; never back
      let floor = 0;
      let current = 0;
      for (const { value } of seen) {
        total++;
        if (value === "NOT_FOUND") {
          notFound++;
          floor = Math.max(floor, current + 1);
          continue;
        }
        const gen = Number(/^gen-(\d+)$/.exec(value)?.[1] ?? NaN);
        expect(Number.isInteger(gen), `${key} served ${value}`).toBe(true);
        expect(gen, `${key} served gen-${gen} after it had moved on to gen-${Math.max(floor, current)}`).toBeGreaterThanOrEqual(Math.max(floor, current));
        current = gen;
      }
      expect(current, key).toBe(rounds);
    }
    console.log(`fleet delete and re-create, ${rounds} rounds: ${total} Injects on 2 other sidecars (Connect and gRPC), ${notFound} NOT_FOUND, none of an old value`);
  });
});
