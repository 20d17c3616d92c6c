import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { cliMain } from "../support/run-cli.ts";

// util-linux `script` runs the CLI on a pseudo-terminal: stdin is a TTY, as when a person types
const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs the CLI on a terminal, typing each answer once its prompt has appeared; everything the terminal showed comes back. */
function onTerminal(args: string[], env: Record<string, string>, answers: [prompt: string, typed: string][]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, cliMain, ...args].map((word) => `'${word}'`).join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    let waited = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      screen += chunk.toString("utf8");
      const next = answers[0];
      if (next !== undefined && screen.indexOf(next[0], waited) !== -1) {
        waited = screen.indexOf(next[0], waited) + next[0].length;
        answers.shift();
        child.stdin.write(next[1]);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen }));
  });
}

describe.skipIf(!hasScript)("credbroker on a terminal", () => {
  let tb: TestBroker;
  let env: Record<string, string>;

  beforeAll(async () => {
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
  });
  afterAll(async () => {
    await tb?.close();
  });

  it("prompts for each field, echoing names but not credential values", async () => {
    const password = `canary-typed-${randomBytes(6).toString("hex")}`;
    const run = await onTerminal(["secrets", "create", "typed", "--mode", "test", "--type", "basic"], env, [
      ["username: ", "svc-user\r"],
      ["password: ", `${password}\r`],
    ]);
    expect(run.code).toBe(0);
    expect(run.screen).toContain("svc-user");
    expect(run.screen).not.toContain(password);
    expect(run.screen).toMatch(/type +basic/);
    const res = await tb.connect(InjectService).inject({ mode: Mode.TEST, name: "typed" });
    expect(res.material.case === "http" && res.material.value.headers[0]?.value).toBe(`Basic ${Buffer.from(`svc-user:${password}`).toString("base64")}`);
  });

  it("cancels on Ctrl-C with exit 1, storing nothing", async () => {
    const run = await onTerminal(["secrets", "create", "cancelled", "--mode", "test", "--type", "bearer"], env, [["token: ", "half-typed\u0003"]]);
    expect(run.code).toBe(1);
    expect(run.screen).toContain("credbroker: cancelled");
    expect(run.screen).not.toContain("half-typed");
    await expect(tb.connect(SecretService, tb.adminToken).getSecret({ mode: Mode.TEST, name: "cancelled" })).rejects.toThrow(/not found/i);
  });

  it("asks before deleting: anything but yes keeps the secret (exit 1), yes deletes it", async () => {
    const secrets = tb.connect(SecretService, tb.adminToken);
    await secrets.createSecret({ mode: Mode.TEST, name: "doomed", credentials: { kind: { case: "bearerToken", value: { token: "t" } } } });
    const kept = await onTerminal(["secrets", "delete", "doomed", "--mode", "test"], env, [["[y/N] ", "n\r"]]);
    expect(kept.code).toBe(1);
    expect(kept.screen).toContain('Delete the test secret "doomed" permanently?');
    expect((await secrets.getSecret({ mode: Mode.TEST, name: "doomed" })).secret?.name).toBe("doomed");
    const deleted = await onTerminal(["secrets", "delete", "doomed", "--mode", "test"], env, [["[y/N] ", "yes\r"]]);
    expect(deleted.code).toBe(0);
    expect(deleted.screen).toContain("deleted test secret doomed");
    await expect(secrets.getSecret({ mode: Mode.TEST, name: "doomed" })).rejects.toThrow(/not found/i);
  });
});
