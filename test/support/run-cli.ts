import { spawn } from "node:child_process";
import { join } from "node:path";

/** The CLI's entry point, run as `node src/cli/main.ts` under the test's own Node. */
export const cliMain = join(import.meta.dirname, "../../src/cli/main.ts");

/** What a CLI run printed and how it exited. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `credbroker ARGS` with only the given environment (plus PATH), and
 * `input` on stdin (a pipe: not a terminal); stdin is closed right away
 * without input.
 */
export function runCli(args: readonly string[], env: Record<string, string>, input = ""): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
