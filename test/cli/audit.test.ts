import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";

const canary = "canary-audit-cli-3b9e";

describe("credbroker audit, end to end against a real broker", () => {
  let tb: TestBroker;
  let env: Record<string, string>;
  let between: string;

  beforeAll(async () => {
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
    const secrets = tb.connect(SecretService, tb.adminToken);
    const basic = { kind: { case: "basicAuth" as const, value: { username: "svc", password: canary } } };
    await secrets.createSecret({ mode: Mode.TEST, name: "first", credentials: basic });
    await new Promise((resolve) => setTimeout(resolve, 5));
    between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await secrets.createSecret({ mode: Mode.TEST, name: "second", credentials: basic });
    await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "second" });
    await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "absent" }).catch(() => undefined);
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("prints every event as a table, oldest first, with no value", async () => {
    const run = await runCli(["audit", "--page-size", "2"], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TIME +METHOD +MODE +SECRETS +CODE +CALLER/);
    // the listing's own pages are audited too, after the first
    const rows = lines.slice(1).map((line) => line.split(/ +/).slice(1, 6));
    expect(rows.filter((row) => row[0] === "AuditService/ListAuditEvents").length).toBeGreaterThan(0);
    expect(rows.filter((row) => row[0] !== "AuditService/ListAuditEvents")).toEqual([
      ["SecretService/CreateSecret", "test", "first@1", "ok", "admin"],
      ["SecretService/CreateSecret", "test", "second@1", "ok", "admin"],
      ["InjectService/Inject", "test", "second@1", "ok", "none"],
      ["InjectService/Inject", "test", "absent", "not_found", "none"],
    ]);
    expect(run.stdout + run.stderr).not.toContain(canary);
  });

  it("filters by --since and --name, and prints JSON with --json", async () => {
    const run = await runCli(["audit", "--since", between, "--name", "second", "--json"], env);
    expect(run.code).toBe(0);
    const events = (JSON.parse(run.stdout) as { events: { method: string; secrets: { name: string }[] }[] }).events;
    expect(events.map((e) => [e.method, e.secrets[0]?.name])).toEqual([
      ["credbroker.v1.SecretService/CreateSecret", "second"],
      ["credbroker.v1.InjectService/Inject", "second"],
    ]);
    expect(run.stdout).not.toContain(canary);
  });

  it("refuses a malformed --since with exit 2", async () => {
    const run = await runCli(["audit", "--since", "yesterday"], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--since");
  });
});
