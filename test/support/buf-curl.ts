import { execFile } from "node:child_process";
import { join } from "node:path";

/** The npm-shipped buf, whose `curl` is a Go gRPC/Connect client that resolves schemas by server reflection. */
const buf = join(import.meta.dirname, "../../node_modules/.bin/buf");

/** What one `buf curl` run printed and how it exited. */
export interface BufCurlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `buf curl` with the given arguments. Asynchronous on purpose: the
 * broker under test answers from this same process.
 */
export function bufCurl(args: readonly string[]): Promise<BufCurlRun> {
  return new Promise((resolve) => {
    execFile(buf, ["curl", ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
