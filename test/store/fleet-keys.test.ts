/**
 * The fleet's keys: one keyring in PostgreSQL, rotated through any sidecar
 * while the others serve Inject; the central tables hold no plaintext; a
 * sidecar without the fleet's master key (or any configured key or admin
 * token) does not start.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { canarySecrets } from "../support/canary-credentials.ts";
import { type Sidecar, bearer, fleetSuite, injectedToken, startReadLoad, useFleet, waitUntil } from "../support/fleet.ts";

const suite = fleetSuite("the fleet's keyring");

describe.skipIf(suite.skip)(suite.title, () => {
  const setup = useFleet();
  let a: Sidecar;
  let b: Sidecar;
  let c: Sidecar;

  beforeAll(async () => {
    [a, b, c] = await setup.fleet.startAll(["keys-a", "keys-b", "keys-c"]);
  }, 60_000);

  /** The active term's key id on a sidecar. */
  async function activeKey(sidecar: Sidecar): Promise<number | undefined> {
    return (await sidecar.keys.getKeyStatus({})).terms.find((term) => term.active)?.keyId;
  }

  it("rotates the key through one sidecar under Inject load on the others with zero Inject errors; every sidecar shows the new term", { timeout: 60_000 }, async () => {
    for (let i = 0; i < 30; i++) {
      await a.secrets.createSecret({ mode: Mode.TEST, name: `sealed-${i}`, credentials: bearer(`sealed-value-${i}`) });
    }
    await a.secrets.createSecret({ mode: Mode.TEST, name: "hot", credentials: bearer("hot-value") });
    await Promise.all([b, c].map((s) => waitUntil(`${s.instanceId} serves hot`, async () => (await injectedToken(s.inject, Mode.TEST, "hot")) === "hot-value")));
    const before = await activeKey(a);
    const load = startReadLoad([b, c], Mode.TEST, "hot", ["hot-value"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rotated = await a.keys.rotateKey({});
    const newKey = rotated.terms.find((term) => term.active)?.keyId;
    expect(newKey).toBeDefined();
    expect(newKey).not.toBe(before);
    const seen = await Promise.all([a, b, c].map((s) => waitUntil(`${s.instanceId} shows key ${newKey} active`, async () => (await activeKey(s)) === newKey, 10_000, 20)));
    // the background rewrap moves every record to the new key, fleet-wide
    const rewrapped = await waitUntil(
      "every record rewrapped",
      async () => {
        const status = await a.keys.getKeyStatus({});
        return !status.rewrapRunning && status.recordsToRewrap === 0n;
      },
      20_000,
      50,
    );
    // a secret sealed under the new key by another sidecar, served by a third
    await b.secrets.createSecret({ mode: Mode.TEST, name: "after-rotation", credentials: bearer("after-rotation-value") });
    await waitUntil("c serves after-rotation", async () => (await injectedToken(c.injectGrpc, Mode.TEST, "after-rotation")) === "after-rotation-value");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await load.stop();
    for (let i = 0; i < 30; i++) {
      expect(await injectedToken(c.inject, Mode.TEST, `sealed-${i}`)).toBe(`sealed-value-${i}`);
    }
    for (const sidecar of [a, b, c]) {
      const status = await sidecar.keys.getKeyStatus({});
      expect(status.terms.map((term) => term.keyId).sort(), sidecar.instanceId).toEqual([before, newKey].sort());
      expect(status.terms.find((term) => term.active)?.keyId, sidecar.instanceId).toBe(newKey);
    }
    expect(result.failures).toEqual([]);
    const injects = Object.entries(result.answered).filter(([key]) => key.includes("Inject")).reduce((sum, [, n]) => sum + n, 0);
    expect(injects).toBeGreaterThan(0);
    console.log(
      `fleet key rotation under load: ${injects} Injects on 2 other sidecars (Connect and gRPC), 0 errors; ` +
        `key ${newKey} active on every sidecar ${Math.round(Math.max(...seen))} ms after RotateKey answered; rewrap done ${Math.round(rewrapped)} ms later`,
    );
  });

  it("keeps no plaintext canary in any of its PostgreSQL tables, raw, base64 or hex", { timeout: 60_000 }, async () => {
    for (const secret of canarySecrets) {
      await a.secrets.createSecret({ mode: Mode.TEST, name: secret.name, credentials: secret.credentials, description: "canary" });
    }
    await b.secrets.deploySecrets({ names: canarySecrets.map((s) => s.name) });
    // partial updates and a rotation write more versions of each
    await c.secrets.updateSecret({ mode: Mode.TEST, name: "c-basic", credentials: canarySecrets[0]!.credentials });
    await a.keys.rotateKey({});
    await waitUntil("rewrap done", async () => {
      const status = await a.keys.getKeyStatus({});
      return !status.rewrapRunning && status.recordsToRewrap === 0n;
    }, 20_000, 50);
    // and a few audit events of Injects shipped (they name the secret, never its values)
    for (const secret of canarySecrets) {
      await c.inject.inject({ mode: Mode.LIVE, name: secret.name }).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    const tables = setup.fleet.sql(`SELECT tablename FROM pg_tables WHERE schemaname = '${setup.fleet.schema}' ORDER BY tablename`).split("\n").filter((t) => t !== "");
    expect(tables).toEqual(expect.arrayContaining(["records", "meta", "audit_events", "state"]));
    let dump = "";
    for (const table of tables) {
      dump += setup.fleet.sql(`COPY ${setup.fleet.schema}.${table} TO STDOUT`);
    }
    // bytea columns come out as \x hex: their bytes are searched too
    const bytes = Buffer.concat([...dump.matchAll(/\\\\x([0-9a-f]+)/g)].map((m) => Buffer.from(m[1]!, "hex")));
    const haystack = `${dump}\n${bytes.toString("latin1")}`;
    // the search reads the sealed records' bytes: their names are there in the clear
    expect(bytes.toString("latin1")).toContain("c-oauth2-dpop");
    expect(bytes.length).toBeGreaterThan(5000);
    const found: string[] = [];
    let searched = 0;
    for (const secret of canarySecrets) {
      for (const canary of secret.canaries) {
        const forms = [canary, Buffer.from(canary).toString("base64"), Buffer.from(canary).toString("base64url"), Buffer.from(canary).toString("hex")];
        for (const form of forms) {
          searched++;
          if (haystack.includes(form) || haystack.toLowerCase().includes(form.toLowerCase())) {
            found.push(`${secret.name}: ${form.slice(0, 16)}...`);
          }
        }
      }
    }
    expect(found).toEqual([]);
    console.log(`fleet tables ${tables.join(", ")}: ${dump.length} characters dumped (${bytes.length} bytea bytes), ${searched} canary forms searched, none found`);
  });

  it("refuses to start with a master key that does not open the fleet's keyring", { timeout: 30_000 }, async () => {
    const other = randomBytes(32).toString("base64");
    const failure = await setup.fleet.start("keys-wrong", { env: { CREDBROKER_MASTER_KEY: other } }).then(
      () => "started",
      (error: unknown) => String(error),
    );
    expect(failure).toMatch(/broker exited \(1\) before serving/);
    expect(failure).toContain("ERR_MASTER_KEY_MISMATCH");
    console.log(`fleet start with another master key: ${failure.split("\n").find((line) => line.includes("ERR_MASTER_KEY_MISMATCH"))?.slice(0, 300)}`);
    // and the fleet is untouched: a write through a sidecar with the right key is served by another
    await a.secrets.createSecret({ mode: Mode.TEST, name: "after-refusal", credentials: bearer("after-refusal-value") });
    await waitUntil("b serves after-refusal", async () => (await injectedToken(b.inject, Mode.TEST, "after-refusal")) === "after-refusal-value");
  });

  for (const missing of ["CREDBROKER_MASTER_KEY", "CREDBROKER_ADMIN_TOKEN"]) {
    it(`refuses fleet mode without ${missing}: exit 2, naming it`, { timeout: 30_000 }, async () => {
      const failure = await setup.fleet.start(`keys-no-${missing.toLowerCase()}`, { unset: [missing] }).then(
        () => "started",
        (error: unknown) => String(error),
      );
      expect(failure).toMatch(/broker exited \(2\) before serving/);
      expect(failure).toContain(missing);
      expect(failure).toContain("fleet mode");
      console.log(`fleet start without ${missing}: ${failure.split("\n").find((line) => line.includes("fleet mode"))?.slice(0, 300)}`);
    });
  }
});
