/**
 * PostgreSQL outages under a real fleet: a crash-like stop, a hung
 * (SIGSTOPped) server, every credbroker connection terminated during a
 * write burst, and a hang after which new connections cannot answer for
 * seconds. Reads and Inject keep serving from each sidecar's replica,
 * writes answer UNAVAILABLE (ERR_CENTRAL_UNAVAILABLE) within 5 s and are
 * never applied later, and the fleet converges once PostgreSQL is back.
 */
import { Code } from "@connectrpc/connect";
import postgres from "postgres";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { type ReadLoadResult, type Sidecar, bearer, fleetSuite, injectedToken, outcome, startReadLoad, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("a fleet through PostgreSQL outages");

/** The documented bound on a write during an outage (DESIGN.md, Fleet mode). */
const writeRefusalMs = 5_000;
/** A client deadline on writes: an answer that never comes fails the test as DEADLINE_EXCEEDED, not as its timeout. */
const writeDeadlineMs = 15_000;

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let a: Sidecar;
  let b: Sidecar;
  let c: Sidecar;

  beforeAll(async () => {
    [a, b, c] = await setup.fleet.startAll(["outage-a", "outage-b", "outage-c"]);
    await a.secrets.createSecret({ mode: Mode.TEST, name: "steady", credentials: bearer("steady-value") });
    await Promise.all([b, c].map((s) => waitUntil(`${s.instanceId} serves steady`, async () => (await injectedToken(s.inject, Mode.TEST, "steady")) === "steady-value")));
  }, 60_000);
  // a test that failed (or timed out) while PostgreSQL hung leaves the next one a running server
  afterEach(() => setup.postgres?.resume());

  /** A write's outcome and how long it took to answer. */
  async function timedWrite(call: Promise<unknown>): Promise<{ code: Code | "ok"; reason: string | undefined; ms: number }> {
    const start = performance.now();
    const result = await outcome(call);
    return { ...result, ms: Math.round(performance.now() - start) };
  }

  /** Writes through `sidecar` until one succeeds; resolves to the milliseconds it took. */
  async function firstWriteAfter(sidecar: Sidecar, name: string, value: string, deadlineMs = 30_000): Promise<number> {
    return waitUntil(
      `a write through ${sidecar.instanceId} succeeds`,
      async () => (await outcome(sidecar.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(value) }, { timeoutMs: writeDeadlineMs }))).code === "ok",
      deadlineMs,
      100,
    );
  }

  /** Every sidecar process still runs; the log of one that ended shows why. */
  function expectAlive(): void {
    for (const sidecar of [a, b, c]) {
      const exit = sidecar.process.child.exitCode ?? sidecar.process.child.signalCode;
      expect({ sidecar: sidecar.instanceId, exit }, exit === null ? "" : sidecar.process.stderr().slice(-2000)).toEqual({ sidecar: sidecar.instanceId, exit: null });
    }
  }

  /** Every sidecar serves `value` for `name`. */
  /** Every write of the outage refused as UNAVAILABLE in time, while every read of the load was answered. */
  function expectRefusedWhileServed(refused: Awaited<ReturnType<typeof timedWrite>>[], result: ReadLoadResult): void {
    for (const r of refused) {
      expect({ code: r.code, reason: r.reason }).toEqual({ code: Code.Unavailable, reason: "ERR_CENTRAL_UNAVAILABLE" });
      expect(r.ms).toBeLessThan(writeRefusalMs);
    }
    expect(result.failures).toEqual([]);
    expect(Math.min(...Object.values(result.answered))).toBeGreaterThan(0);
  }

  function converged(name: string, value: string): Promise<number[]> {
    return Promise.all([a, b, c].map((s) => waitUntil(`${s.instanceId} serves ${name} = ${value}`, async () => (await injectedToken(s.injectGrpc, Mode.TEST, name)) === value, 10_000)));
  }

  it("keeps serving reads and Inject while PostgreSQL is stopped (-m immediate), refuses writes within 5 s, and converges after its start", { timeout: 60_000 }, async () => {
    const load = startReadLoad([a, b, c], Mode.TEST, "steady", ["steady-value"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    setup.postgres.stop();
    const refused = [];
    for (const [i, sidecar] of [a, b, c, a].entries()) {
      refused.push(await timedWrite(sidecar.secrets.createSecret({ mode: Mode.TEST, name: `during-stop-${i}`, credentials: bearer(`never-${i}`) })));
    }
    refused.push(await timedWrite(b.secrets.updateSecret({ mode: Mode.TEST, name: "steady", credentials: bearer("never-updated") })));
    refused.push(await timedWrite(c.secrets.deleteSecret({ mode: Mode.TEST, name: "steady" })));
    // the outage lasts a while: reads are served from the replicas all along
    await new Promise((resolve) => setTimeout(resolve, 2500));
    refused.push(await timedWrite(a.secrets.deploySecrets({ names: ["steady"] })));
    setup.postgres.start();
    const back = await firstWriteAfter(a, "after-stop", "after-stop-value");
    const convergence = await converged("after-stop", "after-stop-value");
    const result = await load.stop();
    console.log(
      `fleet, PostgreSQL stopped -m immediate: writes refused in ${refused.map((r) => r.ms).join(", ")} ms; ` +
        `first write ok ${Math.round(back)} ms after the start; every sidecar served it ${Math.round(Math.max(...convergence))} ms later; ` +
        `reads answered throughout: ${JSON.stringify(result.answered)}`,
    );
    expectRefusedWhileServed(refused, result);
    // nothing refused was queued for later
    for (const sidecar of [a, b, c]) {
      expect(await injectedToken(sidecar.inject, Mode.TEST, "steady")).toBe("steady-value");
      for (let i = 0; i < 4; i++) {
        expect(await injectedToken(sidecar.inject, Mode.TEST, `during-stop-${i}`)).toBe("NOT_FOUND");
      }
      expect(await injectedToken(sidecar.inject, Mode.LIVE, "steady")).toBe("NOT_FOUND");
    }
    // and writes through the others work again too
    await b.secrets.updateSecret({ mode: Mode.TEST, name: "after-stop", credentials: bearer("after-stop-b") });
    await converged("after-stop", "after-stop-b");
  });

  it("refuses writes within 5 s while PostgreSQL hangs (SIGSTOP), keeps serving Inject, and converges after SIGCONT", { timeout: 60_000 }, async () => {
    const load = startReadLoad([a, b, c], Mode.TEST, "steady", ["steady-value"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    setup.postgres.pause();
    let resumed = false;
    try {
      const refused = await Promise.all(
        [a, b, c].map((sidecar, i) => timedWrite(sidecar.secrets.createSecret({ mode: Mode.TEST, name: `during-pause-${i}`, credentials: bearer(`never-${i}`) }, { timeoutMs: writeDeadlineMs }))),
      );
      // a second write while still hung: the pools were reset after the first timed out
      refused.push(await timedWrite(a.secrets.updateSecret({ mode: Mode.TEST, name: "steady", credentials: bearer("never-updated") }, { timeoutMs: writeDeadlineMs })));
      setup.postgres.resume();
      resumed = true;
      const back = await firstWriteAfter(b, "after-pause", "after-pause-value");
      const convergence = await converged("after-pause", "after-pause-value");
      const result = await load.stop();
      console.log(
        `fleet, PostgreSQL SIGSTOPped: writes refused in ${refused.map((r) => r.ms).join(", ")} ms; ` +
          `first write ok ${Math.round(back)} ms after SIGCONT; every sidecar served it ${Math.round(Math.max(...convergence))} ms later; ` +
          `reads answered throughout: ${JSON.stringify(result.answered)}`,
      );
      expectRefusedWhileServed(refused, result);
      // a write answered UNAVAILABLE did not commit once the server woke up
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const sidecar of [a, b, c]) {
        expect(await injectedToken(sidecar.inject, Mode.TEST, "steady")).toBe("steady-value");
        for (let i = 0; i < 3; i++) {
          expect(await injectedToken(sidecar.inject, Mode.TEST, `during-pause-${i}`)).toBe("NOT_FOUND");
        }
      }
    } finally {
      if (!resumed) {
        setup.postgres.resume();
      }
    }
  });

  it("loses no answered write when every credbroker connection is terminated during a write burst", { timeout: 60_000 }, async () => {
    const attempts = new Map<string, { value: string; ok: boolean }[]>();
    let stop = false;
    const writers = [a, b, c].flatMap((sidecar) =>
      [0, 1].map(async (w) => {
        for (let n = 0; !stop; n++) {
          // each writer creates its own names, then updates them: a name's writes come from one writer, in order
          const name = `burst-${sidecar.instanceId}-${w}-${n % 20}`;
          const value = `${sidecar.instanceId}-${w}-${n}`;
          const tried = attempts.get(name) ?? [];
          attempts.set(name, tried);
          const call =
            n < 20
              ? sidecar.secrets.createSecret({ mode: Mode.TEST, name, credentials: bearer(value) }, { timeoutMs: writeDeadlineMs })
              : sidecar.secrets.updateSecret({ mode: Mode.TEST, name, credentials: bearer(value) }, { timeoutMs: writeDeadlineMs });
          const result = await outcome(call);
          // a refused write may still have committed (its answer lost with the connection): it counts as tried, not as ok
          tried.push({ value, ok: result.code === "ok" });
        }
      }),
    );
    const terminated: number[] = [];
    for (let round = 0; round < 4; round++) {
      await new Promise((resolve) => setTimeout(resolve, 600));
      const pids = setup.fleet.sql(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'credbroker%' AND pid <> pg_backend_pid()`,
      );
      terminated.push(pids.split("\n").filter((line) => line === "t").length);
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    stop = true;
    await Promise.all(writers);
    const all = [...attempts.values()].flat();
    const ok = all.filter((t) => t.ok).length;
    // the terminations ended no sidecar (setup.postgres.js once ended the process on a transaction's dead connection)
    for (const sidecar of [a, b, c]) {
      expect({ sidecar: sidecar.instanceId, exit: sidecar.process.child.exitCode ?? sidecar.process.child.signalCode }).toEqual({ sidecar: sidecar.instanceId, exit: null });
    }
    expect(terminated.every((n) => n > 0), `connections terminated per round: ${terminated.join(", ")}`).toBe(true);
    expect(ok).toBeGreaterThan(100);
    // every sidecar serves, for each name, its last answered write, or a later one whose answer was lost
    const start = performance.now();
    for (const sidecar of [a, b, c]) {
      await waitUntil(
        `${sidecar.instanceId} serves every answered write`,
        async () => {
          for (const [name, tried] of attempts) {
            const lastOk = tried.findLastIndex((t) => t.ok);
            if (lastOk < 0) {
              continue;
            }
            const served = await injectedToken(sidecar.injectGrpc, Mode.TEST, name);
            const allowed = tried.slice(lastOk).map((t) => t.value);
            if (!allowed.includes(served)) {
              return false;
            }
          }
          return true;
        },
        10_000,
        100,
      );
    }
    console.log(
      `fleet, pg_terminate_backend on every credbroker connection 4 times during a write burst of 6 writers on 3 sidecars: ` +
        `${all.length} writes, ${ok} answered ok, ${all.length - ok} refused; connections terminated per round ${terminated.join(", ")}; ` +
        `every answered write served by every sidecar within ${Math.round(performance.now() - start)} ms after the burst`,
    );
  });

  it("survives a hang (SIGSTOP) whose new connections cannot answer for seconds after SIGCONT, and writes again once they can", { timeout: 60_000 }, async () => {
    // pg_type held: a new backend starts, then its first statements wait, as on a server too loaded to answer
    // for a while after SIGCONT (the bench's 20 sidecars reconnecting at once): its connections are the ones
    // the head check (2 s) resets and the statement timeout (3 s) cancels; established ones still answer
    const locker = postgres(setup.fleet.url, { max: 1, fetch_types: false, onnotice: () => undefined });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holding = locker.begin(async (tx) => {
      await tx`LOCK TABLE pg_catalog.pg_type IN ACCESS EXCLUSIVE MODE`;
      locked();
      await released;
    });
    let resumed = false;
    try {
      await Promise.race([lockHeld, holding]);
      setup.postgres.pause();
      // writes and the sidecars' head checks in flight on the hung server: each sidecar resets its pools
      const refused = await Promise.all(
        [a, b, c].map((sidecar, i) => timedWrite(sidecar.secrets.createSecret({ mode: Mode.TEST, name: `during-slow-${i}`, credentials: bearer(`never-${i}`) }, { timeoutMs: writeDeadlineMs }))),
      );
      setup.postgres.resume();
      resumed = true;
      // new connections start up and wait on pg_type, through more than one head check and statement timeout
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      release();
      await holding;
      expectAlive();
      const back = await Promise.all([a, b, c].map((sidecar) => firstWriteAfter(sidecar, `after-slow-${sidecar.instanceId}`, "after-slow-value", 10_000)));
      expectAlive();
      console.log(
        `fleet, PostgreSQL SIGSTOPped, then 6 s of new connections waiting on pg_type: writes refused in ${refused.map((r) => r.ms).join(", ")} ms; ` +
          `first write ok through each sidecar ${back.map((ms) => Math.round(ms)).join(", ")} ms after pg_type was free`,
      );
      for (const r of refused) {
        expect({ code: r.code, reason: r.reason }).toEqual({ code: Code.Unavailable, reason: "ERR_CENTRAL_UNAVAILABLE" });
      }
    } finally {
      if (!resumed) {
        setup.postgres.resume();
      }
      release();
      await holding.catch(() => undefined);
      await locker.end({ timeout: 1 });
    }
  });
});
