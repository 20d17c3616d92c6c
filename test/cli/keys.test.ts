import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";

describe("credbroker keys", () => {
  let tb: TestBroker;
  beforeEach(async () => {
    tb = await startTestBroker();
  });
  afterEach(async () => {
    await tb.close();
  });

  it("rotates the keyring and shows each key's records; the admin token is required", async () => {
    const env = { CREDBROKER_TOKEN: tb.adminToken, CREDBROKER_ADDR: tb.broker.grpcAddress };
    const before = await runCli(["keys", "status", "--json"], env);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout).terms.map((t: { keyId: number; active: boolean }) => [t.keyId, t.active])).toEqual([[1, true]]);

    const rotated = await runCli(["keys", "rotate", "--json"], env);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout).newTerm).toMatchObject({ keyId: 2, active: true });

    const status = await runCli(["keys", "status"], env);
    expect(status.code).toBe(0);
    expect(status.stdout.split("\n")[0]).toMatch(/^KEY\s+ACTIVE\s+CREATED\s+RECORDS$/);
    expect(status.stdout).toMatch(/^2\s+yes\s+\S+\s+0$/m);
    expect(status.stdout).toMatch(/^1\s+no\s+\S+\s+0$/m);

    const wrongToken = await runCli(["keys", "rotate"], { ...env, CREDBROKER_TOKEN: "not-the-admin-token" });
    expect(wrongToken.code).toBe(1);
    expect((await runCli(["keys", "spin"], env)).code).toBe(2);
    const after = await runCli(["keys", "status", "--json"], env);
    expect(JSON.parse(after.stdout).terms).toHaveLength(2);
  });
});
