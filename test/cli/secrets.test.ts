import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli, type CliRun } from "../support/run-cli.ts";

const canary = (label: string) => `canary-${label}-${randomBytes(6).toString("hex")}`;

describe("credbroker secrets, end to end against a real broker", () => {
  let tb: TestBroker;
  let env: Record<string, string>;
  let dir: string;
  const canaries: string[] = [];
  const secret = (label: string) => {
    const value = canary(label);
    canaries.push(value);
    return value;
  };
  /** No canary value in anything the CLI printed. */
  const expectNoValues = (run: CliRun) => {
    for (const value of canaries) {
      expect(run.stdout).not.toContain(value);
      expect(run.stderr).not.toContain(value);
    }
  };
  const cli = async (args: string[], input = "") => {
    const run = await runCli(args, env, input);
    expectNoValues(run);
    return run;
  };

  beforeAll(async () => {
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
    dir = await mkdtemp(join(tmpdir(), "credbroker-cli-secrets-"));
  });
  afterAll(async () => {
    await tb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a secret of every type from stdin, printing metadata only", async () => {
    const privateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const inputs: [string, string, string][] = [
      ["basic", "basic-one", JSON.stringify({ username: "svc", password: secret("basic") })],
      ["bearer", "bearer-raw", `${secret("bearer")}\n`],
      ["bearer", "bearer-json", JSON.stringify({ token: secret("bearer-json") })],
      ["api-key", "api-one", JSON.stringify({ keyName: "X-API-Key", keyValue: secret("api") })],
      ["sftp-password", "sftp-pw", JSON.stringify({ username: "deploy", password: secret("sftp") })],
      ["sftp-key", "sftp-key", JSON.stringify({ username: "deploy", privateKey })],
      [
        "oauth2",
        "crm-api",
        JSON.stringify({
          clientId: "automations",
          clientSecret: secret("oauth2"),
          tokenUrl: "http://127.0.0.1:9/token",
          scopes: ["contacts.read"],
          authMethod: "client_secret_post",
        }),
      ],
      ["json", "gcp-sa", JSON.stringify({ type: "service_account", private_key: secret("json") })],
    ];
    const expectedTypes: Record<string, string> = {
      basic: "SECRET_TYPE_BASIC_AUTH",
      bearer: "SECRET_TYPE_BEARER_TOKEN",
      "api-key": "SECRET_TYPE_API_KEY",
      "sftp-password": "SECRET_TYPE_SFTP_PASSWORD",
      "sftp-key": "SECRET_TYPE_SFTP_PRIVATE_KEY",
      oauth2: "SECRET_TYPE_OAUTH2_CLIENT_CREDENTIALS",
      json: "SECRET_TYPE_JSON_CREDENTIALS",
    };
    for (const [type, name, input] of inputs) {
      const run = await cli(["secrets", "create", name, "--mode", "test", "--type", type, "--json"], input);
      expect(run, `${type} ${name}`).toMatchObject({ code: 0, stderr: "" });
      const { secret: created } = JSON.parse(run.stdout);
      expect(created).toMatchObject({ name, mode: "MODE_TEST", type: expectedTypes[type], version: "1" });
      expect(run.stdout).not.toContain(privateKey.split("\n")[1]);
    }
    // what was stored is what Inject hands a step
    const inject = tb.connect(InjectService);
    const code = await inject.inject({ mode: Mode.TEST, name: "bearer-raw", step: StepKind.CODE });
    expect(code.material.case === "code" && code.material.value.fields["token"]).toBe(canaries[1]);
    const http = await inject.inject({ mode: Mode.TEST, name: "basic-one" });
    expect(http.material.case === "http" && http.material.value.headers[0]?.value).toBe(
      `Basic ${Buffer.from(`svc:${canaries[0]}`).toString("base64")}`,
    );

    const human = await cli(["secrets", "create", "human-one", "--mode", "live", "--type", "bearer", "--description", "Shown as a table"], secret("human"));
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^name +human-one$/m);
    expect(human.stdout).toMatch(/^mode +live$/m);
    expect(human.stdout).toMatch(/^type +bearer$/m);
    expect(human.stdout).toMatch(/^description +Shown as a table$/m);
  });

  it("reads values from --from-file, and has no flag that takes a value on the command line", async () => {
    const file = join(dir, "values.json");
    await writeFile(file, JSON.stringify({ username: "u", password: secret("file") }), { mode: 0o600 });
    const run = await cli(["secrets", "create", "from-file", "--mode", "test", "--type", "basic", "--from-file", file]);
    expect(run.code).toBe(0);
    const refused = await cli(["secrets", "create", "argv", "--mode", "test", "--type", "basic", "--password", secret("argv")]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--password");
    const missing = await cli(["secrets", "create", "no-file", "--mode", "test", "--type", "basic", "--from-file", join(dir, "absent.json")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^credbroker: cannot read .*absent\.json \(ENOENT\) \(ERR_INPUT\)\n$/);
  });

  it("lists with --json: parsed, ordered by name, versions as strings, paged with --page-size and --all", async () => {
    for (const name of ["list-a", "list-b", "list-c"]) {
      expect((await cli(["secrets", "create", name, "--mode", "live", "--type", "bearer"], secret(name))).code).toBe(0);
    }
    const all = await cli(["secrets", "list", "--mode", "live", "--json"]);
    expect(all.code).toBe(0);
    const listing = JSON.parse(all.stdout) as { secrets: { name: string; version: string; mode: string }[]; nextPageToken: string };
    expect(listing.secrets.map((s) => s.name)).toEqual(["human-one", "list-a", "list-b", "list-c"]);
    expect(listing.secrets.every((s) => s.version === "1" && s.mode === "MODE_LIVE")).toBe(true);
    expect(listing.nextPageToken).toBe("");

    const page = JSON.parse((await cli(["--json", "secrets", "list", "--mode", "live", "--page-size", "2"])).stdout);
    expect(page.secrets.map((s: { name: string }) => s.name)).toEqual(["human-one", "list-a"]);
    expect(page.nextPageToken).not.toBe("");
    const next = JSON.parse((await cli(["secrets", "list", "--mode", "live", "--page-size", "2", "--page-token", page.nextPageToken, "--json"])).stdout);
    expect(next.secrets.map((s: { name: string }) => s.name)).toEqual(["list-b", "list-c"]);
    const paged = JSON.parse((await cli(["secrets", "list", "--mode", "live", "--page-size", "1", "--all", "--json"])).stdout);
    expect(paged.secrets.map((s: { name: string }) => s.name)).toEqual(["human-one", "list-a", "list-b", "list-c"]);

    const table = await cli(["secrets", "list", "--mode", "live", "--page-size", "3"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME +MODE +TYPE +VERSION +UPDATED +DESCRIPTION$/);
    expect(table.stdout).toMatch(/^list-a +live +bearer +1 +\d{4}-\d\d-\d\dT/m);
    expect(table.stdout).not.toContain("list-c");
    expect(table.stderr).toContain("--page-token");
    expect(table.stderr).toContain("3 of 4;");

    const filtered = JSON.parse(
      (await cli(["secrets", "list", "--mode", "live", "--search", "LIST-", "--type", "bearer", "--step", "http", "--order", "updated", "--json"])).stdout,
    ) as { secrets: { name: string }[]; totalSize: number };
    expect([filtered.secrets.map((s) => s.name).sort(), filtered.totalSize]).toEqual([["list-a", "list-b", "list-c"], 3]);
    const none = JSON.parse((await cli(["secrets", "list", "--mode", "live", "--type", "json", "--json"])).stdout) as { secrets?: unknown[] };
    expect(none.secrets ?? []).toEqual([]);
    expect((await cli(["secrets", "list", "--mode", "live", "--order", "newest"])).code).toBe(2);
  });

  it("gets a secret's metadata, as pairs or JSON", async () => {
    const human = await cli(["secrets", "get", "api-one", "--mode", "test"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^type +api-key$/m);
    expect(human.stdout).toMatch(/^version +1$/m);
    const json = await cli(["secrets", "get", "api-one", "--mode", "test", "--json"]);
    expect(JSON.parse(json.stdout).secret).toMatchObject({ name: "api-one", type: "SECRET_TYPE_API_KEY", version: "1" });
  });

  it("updates the description and the values; a stale --expected-version exits 1 with ABORTED", async () => {
    const described = await cli(["secrets", "update", "api-one", "--mode", "test", "--description", "Stripe", "--json"]);
    expect(described.code).toBe(0);
    expect(JSON.parse(described.stdout).secret).toMatchObject({ description: "Stripe", version: "2" });
    const newValue = secret("api-new");
    const updated = await cli(
      ["secrets", "update", "api-one", "--mode", "test", "--stdin", "--expected-version", "2"],
      JSON.stringify({ keyName: "X-Api-Key", keyValue: newValue }),
    );
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/^version +3$/m);
    expect(updated.stdout).toMatch(/^description +Stripe$/m);
    const res = await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "api-one" });
    expect(res.material.case === "http" && res.material.value.headers[0]).toMatchObject({ name: "X-Api-Key", value: newValue });

    const stale = await cli(["secrets", "update", "api-one", "--mode", "test", "--description", "x", "--expected-version", "2"]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toBe("");
    expect(stale.stderr).toMatch(/^credbroker: \[aborted\] [^\n]*\n$/);
    const nothing = await cli(["secrets", "update", "api-one", "--mode", "test"]);
    expect(nothing.code).toBe(2);
  });

  it("deletes with --yes; without it and without a terminal it refuses (exit 2) and deletes nothing", async () => {
    const refused = await cli(["secrets", "delete", "sftp-pw", "--mode", "test"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    expect((await cli(["secrets", "get", "sftp-pw", "--mode", "test"])).code).toBe(0);
    const deleted = await cli(["secrets", "delete", "sftp-pw", "--mode", "test", "--yes"]);
    expect(deleted).toMatchObject({ code: 0, stdout: "deleted test secret sftp-pw\n" });
    const gone = await cli(["secrets", "get", "sftp-pw", "--mode", "test"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^credbroker: \[not_found\] [^\n]*sftp-pw[^\n]*\n$/);
    const live = await cli(["secrets", "delete", "list-a", "--mode", "live", "--yes"]);
    expect(live.code).toBe(1);
    expect(live.stderr).toMatch(/^credbroker: \[failed_precondition\] [^\n]*\n$/);
  });

  it("answers bad input with exit 1 and a line that quotes none of it", async () => {
    const value = secret("bad-input");
    const cases: [string[], string, RegExp][] = [
      [["--type", "basic"], `{"username": "u", "password": "${value}"`, /not valid JSON/],
      [["--type", "basic"], JSON.stringify({ [value]: "x", username: "u", password: "p" }), /does not take/],
      [["--type", "basic"], JSON.stringify({ username: "u" }), /missing password/],
      [["--type", "api-key"], "", /no credential values/],
      [["--type", "api-key"], JSON.stringify({ keyName: "bad header", keyValue: value }), /^credbroker: \[invalid_argument\] .*keyName/],
      [["--type", "basic"], JSON.stringify({ username: "u", password: 42 }), /password must be a string/],
    ];
    for (const [flags, input, message] of cases) {
      const run = await cli(["secrets", "create", "bad-input", "--mode", "test", ...flags], input);
      expect(run.code, input).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.split("\n")).toHaveLength(2);
    }
  });
});
