import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { readmeBlocks } from "../support/readme-blocks.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "../..");

const times = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g;

describe("the README's CLI section works as written", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("runs the session, printing what the README shows and never a value it should not", async () => {
    const [session] = await readmeBlocks("CLI", "sh");
    const [listed, injected] = await readmeBlocks("CLI", "text");
    // `npx credbroker` runs src/cli/main.ts (checked below); the function spares ~1.5 s of npm start-up per command
    const shim = `npx() { [ "$1" = credbroker ] || exit 99; shift; node ${JSON.stringify(join(root, "src/cli/main.ts"))} "$@"; }\n`;
    const { stdout, stderr } = await run("bash", ["-euo", "pipefail", "-c", shim + session!], {
      cwd: root,
      env: { PATH: process.env["PATH"] ?? "", CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken },
    });
    const shown = stdout.replace(times, "2026-01-01T12:00:00Z");
    expect(shown).toContain(listed);
    expect(shown).toContain(injected);
    expect(stdout).toContain('"name": "crm-basic"');
    expect(stdout).toMatch(/^field token +ghp_example_token$/m);
    expect(stdout).toContain("deleted test secret github-token");
    expect(stdout.trimEnd().endsWith("SERVING")).toBe(true);
    for (const value of ["s3cret-pw", "n3w-s3cret-pw"]) {
      expect(stdout + stderr).not.toContain(value);
    }
    const secrets = tb.connect(SecretService, tb.adminToken);
    expect((await secrets.getSecret({ mode: Mode.TEST, name: "crm-basic" })).secret?.version).toBe(2n);
    expect((await secrets.getSecret({ mode: Mode.LIVE, name: "github-token" })).secret?.version).toBe(1n);
    await expect(secrets.getSecret({ mode: Mode.TEST, name: "github-token" })).rejects.toThrow(/not found/i);
  });

  it("`npx credbroker` runs the project's bin from a checkout", async () => {
    const { stdout } = await run("npx", ["--offline", "credbroker", "--help"], { cwd: root });
    expect(stdout.startsWith("Usage: credbroker <command>")).toBe(true);
  });
});
