import { spawn } from "node:child_process";
import { join } from "node:path";

const main = join(import.meta.dirname, "../../src/cli/main.ts");

/** How a `credbroker serve` run ended. */
export interface ServeRun {
  code: number | null;
  stderr: string;
  /** Whether it logged that it serves before it ended. */
  served: boolean;
}

/**
 * Runs `credbroker serve` as a child process on free ports (no metrics
 * listener) and stops it with SIGTERM once it serves, or lets it exit on
 * its own; only PATH and `env` reach it.
 */
export function serveOnce(args: string[], env: Record<string, string> = {}): Promise<ServeRun> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [main, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--metrics-listen", "off", ...args],
      { env: { PATH: process.env["PATH"] ?? "", ...env }, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    let served = false;
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!served && stderr.includes('"credbroker serving"')) {
        served = true;
        child.kill("SIGTERM");
      }
    });
    child.on("exit", (code) => resolve({ code, stderr, served }));
  });
}
