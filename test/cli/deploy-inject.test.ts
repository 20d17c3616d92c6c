import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";

const password = `canary-pw-${randomBytes(6).toString("hex")}`;
const sftpPassword = `canary-sftp-${randomBytes(6).toString("hex")}`;
const document = JSON.stringify({ type: "service_account", key: `canary-json-${randomBytes(6).toString("hex")}` });
const basicHeader = `Basic ${Buffer.from(`svc:${password}`).toString("base64")}`;

describe("credbroker deploy and inject, end to end against a real broker", () => {
  let tb: TestBroker;
  let env: Record<string, string>;

  beforeAll(async () => {
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
    const secrets = tb.connect(SecretService, tb.adminToken);
    await secrets.createSecret({ mode: Mode.TEST, name: "basic", credentials: { kind: { case: "basicAuth", value: { username: "svc", password } } } });
    await secrets.createSecret({
      mode: Mode.TEST,
      name: "sftp",
      credentials: { kind: { case: "sftpPassword", value: { username: "deploy", password: sftpPassword } } },
    });
    await secrets.createSecret({ mode: Mode.TEST, name: "doc", credentials: { kind: { case: "jsonCredentials", value: { json: document } } } });
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("deploys test secrets to live and prints the live copies", async () => {
    const run = await runCli(["deploy", "basic", "sftp"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^basic +live +basic +1 /m);
    expect(run.stdout).toMatch(/^sftp +live +sftp-password +1 /m);
    const json = await runCli(["deploy", "doc", "--json"], env);
    expect(JSON.parse(json.stdout).secrets).toEqual([expect.objectContaining({ name: "doc", mode: "MODE_LIVE", version: "1" })]);
    for (const run2 of [run, json]) {
      expect(run2.stdout + run2.stderr).not.toContain(password);
    }
  });

  it("deploys nothing when a name is missing in test: exit 1 with NOT_FOUND", async () => {
    const secrets = tb.connect(SecretService, tb.adminToken);
    await secrets.createSecret({ mode: Mode.TEST, name: "only-test", credentials: { kind: { case: "bearerToken", value: { token: "t" } } } });
    const run = await runCli(["deploy", "only-test", "never-created"], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^credbroker: \[not_found\] [^\n]*never-created[^\n]*\n$/);
    await expect(secrets.getSecret({ mode: Mode.LIVE, name: "only-test" })).rejects.toThrow(/not found/i);
    expect((await runCli(["deploy"], env)).code).toBe(2);
  });

  it("injects with values hidden by default, and shows them with --show-values", async () => {
    const masked = await runCli(["inject", "basic", "--mode", "live"], env);
    expect(masked.code).toBe(0);
    expect(masked.stdout).toMatch(/^step +http$/m);
    expect(masked.stdout).toMatch(/^header +Authorization: Basic \*\*\*\*$/m);
    expect(masked.stdout + masked.stderr).not.toContain(password);
    expect(masked.stdout).not.toContain(basicHeader.split(" ")[1]);
    expect(masked.stderr).toContain("--show-values");
    const shown = await runCli(["inject", "basic", "--mode", "live", "--show-values"], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^header +Authorization: ${basicHeader}$`, "m"));
  });

  it("injects for Code and SFTP steps, as JSON, masking credential fields but not names", async () => {
    const code = await runCli(["inject", "basic", "--mode", "test", "--step", "code", "--json"], env);
    expect(code.code).toBe(0);
    expect(JSON.parse(code.stdout)).toMatchObject({
      secret: { name: "basic", mode: "MODE_TEST", version: "1" },
      code: { fields: { username: "svc", password: "****" } },
    });
    const codeShown = await runCli(["inject", "basic", "--mode", "test", "--step", "code", "--json", "--show-values"], env);
    expect(JSON.parse(codeShown.stdout).code.fields.password).toBe(password);

    const sftp = await runCli(["inject", "sftp", "--mode", "live", "--step", "sftp"], env);
    expect(sftp.code).toBe(0);
    expect(sftp.stdout).toMatch(/^username +deploy$/m);
    expect(sftp.stdout).toMatch(/^password +\*\*\*\*$/m);
    expect(sftp.stdout).not.toContain(sftpPassword);

    const doc = await runCli(["inject", "doc", "--mode", "live"], env);
    expect(doc.stdout).toMatch(/^json +\*\*\*\*$/m);
    expect(doc.stdout).not.toContain("canary-json");
    const docShown = await runCli(["inject", "doc", "--mode", "live", "--json", "--show-values"], env);
    expect(JSON.parse(docShown.stdout).code.json).toBe(document);
  });

  it("answers a step the type cannot serve with exit 1, and an unknown step with exit 2", async () => {
    const run = await runCli(["inject", "basic", "--mode", "live", "--step", "sftp"], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^credbroker: \[failed_precondition\] [^\n]*\n$/);
    expect((await runCli(["inject", "basic", "--mode", "live", "--step", "ftp"], env)).code).toBe(2);
  });

  it("sends CREDBROKER_INJECT_TOKEN to a broker that requires an inject token", async () => {
    const injectToken = `inject-${randomBytes(16).toString("hex")}`;
    const guarded = await startTestBroker({ injectToken: { value: injectToken, source: "test" } });
    try {
      await guarded
        .connect(SecretService, guarded.adminToken)
        .createSecret({ mode: Mode.TEST, name: "guarded", credentials: { kind: { case: "bearerToken", value: { token: "t0k" } } } });
      const base = { CREDBROKER_ADDR: guarded.broker.grpcAddress, CREDBROKER_TOKEN: guarded.adminToken };
      const refused = await runCli(["inject", "guarded", "--mode", "test"], base);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^credbroker: \[unauthenticated\] /);
      const run = await runCli(["inject", "guarded", "--mode", "test"], { ...base, CREDBROKER_INJECT_TOKEN: injectToken });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^header +Authorization: Bearer \*\*\*\*$/m);
    } finally {
      await guarded.close();
    }
  });
});
