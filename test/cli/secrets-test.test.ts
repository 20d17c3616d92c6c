import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli, type CliRun } from "../support/run-cli.ts";

const canary = (label: string) => `canary-${label}-${randomBytes(6).toString("hex")}`;

describe("credbroker secrets test, end to end against a real broker", () => {
  let tb: TestBroker;
  let env: Record<string, string>;
  let http: Server;
  let url: string;
  const seen: IncomingHttpHeaders[] = [];
  const keyValue = canary("api-key");
  const token = canary("bearer");
  const cli = async (args: string[], input = ""): Promise<CliRun> => {
    const run = await runCli(args, env, input);
    for (const value of [keyValue, token]) {
      expect(run.stdout).not.toContain(value);
      expect(run.stderr).not.toContain(value);
    }
    return run;
  };

  beforeAll(async () => {
    http = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(req.headers["x-api-key"] === keyValue ? 204 : 401).end();
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/me`;
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
    await tb.connect(SecretService, tb.adminToken).createSecret({
      mode: Mode.LIVE,
      name: "partner-api",
      credentials: { kind: { case: "apiKey", value: { keyName: "X-API-Key", keyValue } } },
    });
  });
  afterAll(async () => {
    await tb.close();
    await new Promise((resolve) => http.close(resolve));
  });

  it("tests a stored secret by name and mode: exit 0 and the status code", async () => {
    const run = await cli(["secrets", "test", "partner-api", "--mode", "live", "--url", url]);
    console.log(run.stdout);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(/^result +passed$/m);
    expect(run.stdout).toMatch(/^secret +partner-api \(version 1\)$/m);
    expect(run.stdout).toMatch(/^status +204$/m);
    expect(seen.at(-1)?.["x-api-key"]).toBe(keyValue);
  });

  it("tests values from stdin before they are saved: exit 1 when the server refuses them, --json for scripts", async () => {
    const run = await cli(["secrets", "test", "--type", "bearer", "--mode", "test", "--url", url], token);
    console.log(run.stdout);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^status +401$/m);
    expect(seen.at(-1)?.authorization).toBe(`Bearer ${token}`);
    const json = await cli(["secrets", "test", "--type", "json", "--mode", "test", "--stdin", "--json"], '{"a":1}');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, type: "SECRET_TYPE_JSON_CREDENTIALS", json: { memberCount: 1 } });
  });

  it("refuses NAME together with --type, and a bad target as the broker's INVALID_ARGUMENT naming the field", async () => {
    const both = await cli(["secrets", "test", "partner-api", "--type", "bearer", "--mode", "live"]);
    expect(both.code).toBe(2);
    const bad = await cli(["secrets", "test", "partner-api", "--mode", "live", "--url", "http://example.com/me"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("http.url");
  });
});
