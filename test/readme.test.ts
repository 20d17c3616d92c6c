import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InjectService } from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { DeployState, Mode, StepKind } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "./support/broker.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");

/** The fenced blocks of a language under a README heading. */
async function blocks(heading: string, language: string): Promise<string[]> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README has a "${heading}" section`).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 4);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

describe("README examples work as written", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(async () => {
    await tb.close();
  });

  it("runs the curl example: create, deploy, inject", async () => {
    const [script] = await blocks("A worked example with curl", "sh");
    // the README runs from a checkout with the broker on its default ports
    await mkdir(join(tb.dataDir, "cwd", "data"), { recursive: true });
    await writeFile(join(tb.dataDir, "cwd", "data", "admin.token"), `${tb.adminToken}\n`);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script!.replaceAll("127.0.0.1:7391", tb.broker.httpAddress!)], {
      cwd: join(tb.dataDir, "cwd"),
    });
    const [created, deployed, injected] = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(created).toMatchObject({ secret: { name: "stripe-api-key", mode: "MODE_TEST", version: "1" } });
    expect(JSON.stringify(created)).not.toContain("sk_test_51H");
    expect(deployed).toMatchObject({ secrets: [{ name: "stripe-api-key", mode: "MODE_LIVE" }] });
    expect(injected).toMatchObject({ http: { headers: [{ name: "X-API-Key", value: "sk_test_51H" }] } });
  });

  it("runs the SecretService example after the curl example: filters, readable fields, a masked update, a dry run", async () => {
    const [worked] = await blocks("A worked example with curl", "sh");
    const [script] = await blocks("Finding, comparing and rotating secrets (SecretService)", "sh");
    const other = await startTestBroker();
    try {
      await mkdir(join(other.dataDir, "cwd", "data"), { recursive: true });
      await writeFile(join(other.dataDir, "cwd", "data", "admin.token"), `${other.adminToken}\n`);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", `${worked!}\n${script!}`.replaceAll("127.0.0.1:7391", other.broker.httpAddress!)], {
        cwd: join(other.dataDir, "cwd"),
      });
      const [listed, got, updated, dry] = stdout.trim().split("\n").slice(3).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(listed).toMatchObject({ secrets: [{ name: "stripe-api-key", deployState: "DEPLOY_STATE_IN_SYNC", steps: ["STEP_KIND_HTTP", "STEP_KIND_CODE"] }], totalSize: 1 });
      expect(got).toMatchObject({ secret: { readableCredentials: { apiKey: { keyName: "X-API-Key" } } } });
      expect(updated).toMatchObject({ secret: { version: "2", readableCredentials: { apiKey: { keyName: "X-API-Key" } } } });
      expect(dry).toMatchObject({ replacedNames: ["stripe-api-key"], secrets: [{ name: "stripe-api-key", mode: "MODE_LIVE", version: "2" }] });
      expect(stdout.split("\n").slice(3).join("\n")).not.toMatch(/sk_test_/);
      const injected = await other.connect(InjectService).inject({ mode: Mode.TEST, name: "stripe-api-key", step: StepKind.HTTP });
      expect(injected.material.case === "http" && injected.material.value.headers).toEqual([
        expect.objectContaining({ name: "X-API-Key", value: "sk_test_rotated" }),
      ]);
      const after = await other.connect(SecretService, other.adminToken).listSecrets({ mode: Mode.TEST });
      expect(after.secrets[0]?.deployState).toBe(DeployState.NEWER_IN_TEST);
    } finally {
      await other.close();
    }
  });

  it("shows examples/inject-grpc.ts verbatim, and it prints the injected header", async () => {
    const [snippet] = await blocks("Calling Inject from a step runner (gRPC)", "ts");
    const example = await readFile(join(root, "examples", "inject-grpc.ts"), "utf8");
    expect(example.endsWith(snippet!)).toBe(true);
    const { stdout } = await run(process.execPath, [join(root, "examples", "inject-grpc.ts")], {
      env: { ...process.env, CREDBROKER_ADDR: tb.broker.grpcAddress },
    });
    expect(stdout).toBe("X-API-Key: sk_test_51H\n");
  });
});
