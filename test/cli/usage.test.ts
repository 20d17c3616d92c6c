import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";

const commands = [
  [],
  ["serve"],
  ["secrets"],
  ["secrets", "create"],
  ["secrets", "get"],
  ["secrets", "list"],
  ["secrets", "update"],
  ["secrets", "delete"],
  ["deploy"],
  ["inject"],
  ["health"],
];

describe("credbroker usage, exit codes, connection and health", () => {
  let tb: TestBroker;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    tb = await startTestBroker();
    env = { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: tb.adminToken };
    dir = await mkdtemp(join(tmpdir(), "credbroker-cli-usage-"));
  });
  afterAll(async () => {
    await tb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers --help and -h on every command and subcommand with its usage and exit 0", async () => {
    const asked = [...commands.map((words) => [words, "--help"] as const), ...commands.slice(0, 4).map((words) => [words, "-h"] as const)];
    const runs = await Promise.all(asked.map(async ([words, flag]) => ({ words, run: await runCli([...words, flag], {}) })));
    for (const { words, run } of runs) {
      expect(run.code, words.join(" ")).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout.startsWith(`Usage: credbroker ${words.length === 0 ? "<command>" : words.join(" ")}`), run.stdout).toBe(true);
    }
  });

  it("answers usage mistakes with exit 2 and one line naming the command's --help", async () => {
    const mistakes: [string[], RegExp][] = [
      [["secrets", "get", "x", "--mode", "test", "--no-such-flag"], /no-such-flag.*credbroker secrets get --help/],
      [["secrets", "get", "x"], /missing --mode test\|live/],
      [["secrets", "list", "--mode", "staging"], /--mode must be test or live/],
      [["secrets", "get", "--mode", "test"], /missing the secret NAME/],
      [["secrets", "create", "x", "--mode", "test", "--type", "ssh"], /--type must be one of basic\|bearer\|api-key/],
      [["secrets", "create", "x", "--mode", "test", "--type", "basic", "--stdin", "--prompt"], /only one of/],
      [["secrets", "list", "--mode", "test", "--page-size", "many"], /--page-size/],
      [["secrets", "rename"], /unknown secrets command "rename".*credbroker secrets --help/],
      [["secrets", "list", "--mode", "test", "--addr", "nonsense"], /expected host:port/],
      [["frobnicate"], /unknown command "frobnicate".*credbroker --help/],
    ];
    for (const [args, message] of mistakes) {
      const run = await runCli(args, env);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^credbroker: [^\n]*\n$/);
      expect(run.stderr).toMatch(message);
    }
    const bare = await runCli([], env);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Usage: credbroker <command>");
  });

  it("answers broker errors with exit 1 and the broker's message on one line", async () => {
    const missing = await runCli(["secrets", "get", "absent", "--mode", "live"], env);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toMatch(/^credbroker: \[not_found\] [^\n]*"absent"[^\n]*live[^\n]*\n$/);
    const badName = await runCli(["secrets", "get", "Not_A_Name", "--mode", "test"], env);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/^credbroker: \[invalid_argument\] name[^\n]*\n$/);
    const down = await runCli(["secrets", "list", "--mode", "test"], { ...env, CREDBROKER_ADDR: "127.0.0.1:1" });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^credbroker: \[unavailable\] [^\n]*\n$/);
  });

  it("takes the token from CREDBROKER_TOKEN, else the data dir's admin.token; refuses with exit 1 when there is none", async () => {
    const base = { CREDBROKER_ADDR: tb.broker.grpcAddress };
    const none = await runCli(["secrets", "list", "--mode", "test"], { ...base, CREDBROKER_DATA_DIR: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^credbroker: no admin token: looked in CREDBROKER_TOKEN, [^\n]*admin\.token \(ERR_NO_TOKEN\)\n$/);
    await writeFile(join(dir, "admin.token"), `${tb.adminToken}\n`, { mode: 0o600 });
    expect((await runCli(["secrets", "list", "--mode", "test", "--data-dir", dir], base)).code).toBe(0);
    expect((await runCli(["secrets", "list", "--mode", "test"], { ...base, CREDBROKER_DATA_DIR: dir })).code).toBe(0);
    const wrong = await runCli(["secrets", "list", "--mode", "test", "--data-dir", dir], { ...base, CREDBROKER_TOKEN: "wrong-token" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^credbroker: \[unauthenticated\] [^\n]*\n$/);
    expect(wrong.stderr).not.toContain("wrong-token");
    expect(wrong.stderr).not.toContain(tb.adminToken);
  });

  it("accepts the global flags before the command too", async () => {
    const run = await runCli(["--json", "--addr", tb.broker.grpcAddress, "secrets", "list", "--mode", "test"], {
      CREDBROKER_TOKEN: tb.adminToken,
      CREDBROKER_ADDR: "127.0.0.1:1",
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ secrets: [], nextPageToken: "", totalSize: 0 });
  });

  it("checks health: SERVING exits 0, an unreachable broker exits 1; no token needed", async () => {
    // a token that would be refused elsewhere is not even read: a probe must not fail on it
    const serving = await runCli(["health"], { CREDBROKER_ADDR: tb.broker.grpcAddress, CREDBROKER_TOKEN: "has whitespace" });
    expect(serving).toMatchObject({ code: 0, stdout: "SERVING\n", stderr: "" });
    const json = await runCli(["health", "--json", "--service", "credbroker.v1.InjectService"], { CREDBROKER_LISTEN: tb.broker.grpcAddress });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ status: "SERVING" });
    const unknown = await runCli(["health", "--service", "no.such.Service"], { CREDBROKER_ADDR: tb.broker.grpcAddress });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^credbroker: \[not_found\] /);
    const down = await runCli(["health"], { CREDBROKER_ADDR: "127.0.0.1:1" });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^credbroker: \[unavailable\] [^\n]*\n$/);
  });
});
