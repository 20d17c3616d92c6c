/**
 * README sentences about behaviour, checked against the behaviour: how the
 * broker and `npm start` end on Ctrl-C and SIGTERM (real processes in a
 * process group of their own, as a terminal runs them), and which tokens an
 * open or a guarded Inject accepts (a real broker).
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InjectService } from "../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker } from "./support/broker.ts";

const root = join(import.meta.dirname, "..");

/** The README with its line breaks and indentation folded into single spaces. */
async function readme(): Promise<string> {
  return (await readFile(join(root, "README.md"), "utf8")).replace(/\s+/g, " ");
}

/** How a process group ended: the leader's exit, and everything its members wrote to stderr. */
interface GroupRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs a command in a new process group, as a terminal's foreground job;
 * once the broker serves, `stop` signals it. Resolves when every member has
 * closed stderr, so a broker that outlives the leader is waited for too.
 */
function runGroup(
  command: string,
  args: string[],
  stop: (leader: number, serving: string) => void,
): { group: number; leaderExit: Promise<GroupRun>; closed: Promise<GroupRun> } {
  const child = spawn(command, args, { cwd: root, detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let stopping = false;
  const leaderExit = new Promise<GroupRun>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, stderr })),
  );
  // a group that never serves, or outlives a failed assertion, is not left behind
  const guard = setTimeout(() => killGroup(child.pid!, "SIGKILL"), 20_000);
  const closed = new Promise<GroupRun>((resolve) =>
    child.once("close", (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    }),
  );
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    const serving = stderr.split("\n").find((line) => line.includes('"credbroker serving"'));
    if (serving !== undefined && !stopping) {
      stopping = true;
      stop(child.pid!, serving);
    }
  });
  return { group: child.pid!, leaderExit, closed };
}

/** Signals every process of a group that is still there. */
function killGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
      throw error;
    }
  }
}

/** True when something accepts connections at host:port. */
function listening(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("README: stopping the broker", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "credbroker-stop-"));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  const serveArgs = () => ["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--metrics-listen", "off"];
  // --ignore-scripts skips prestart's admin-page build, which has nothing to do with signals
  const npmStart = () => ["--ignore-scripts", "start", "--", ...serveArgs()];

  it("says what Ctrl-C does to the broker and to npm start", async () => {
    expect(await readme()).toContain(
      "Stop it with Ctrl-C: the broker drains in-flight calls, logs `stopped` and exits 0, but `npm start` itself ends by the signal (exit status 130 in the shell, 143 for a SIGTERM to the process group)",
    );
    expect(await readme()).toContain("`node src/cli/main.ts serve`, the image's command, exits 0 on either signal.");
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const broker = await runGroup(process.execPath, ["src/cli/main.ts", "serve", ...serveArgs()], (leader) => process.kill(-leader, signal)).closed;
      expect(broker, `serve, ${signal}`).toMatchObject({ code: 0, signal: null });
      expect(broker.stderr).toContain('"msg":"stopped"');
      const npm = await runGroup("npm", npmStart(), (leader) => process.kill(-leader, signal)).closed;
      // what a shell shows as 130 and 143
      expect(npm, `npm start, ${signal}`).toMatchObject({ code: null, signal });
      // the broker under npm drained and stopped all the same
      expect(npm.stderr).toContain('"msg":"stopped"');
    }
  });

  it("says that npm start leaves the broker running when a SIGTERM reaches npm alone", async () => {
    expect(await readme()).toContain("npm ends at once on a SIGTERM sent to it alone, and leaves the broker running.");
    let grpc = "";
    const run = runGroup("npm", npmStart(), (leader, serving) => {
      grpc = (JSON.parse(serving) as { grpc: string }).grpc;
      process.kill(leader, "SIGTERM");
    });
    try {
      expect(await run.leaderExit).toMatchObject({ code: null, signal: "SIGTERM" });
      expect(await listening(grpc)).toBe(true);
    } finally {
      // the orphaned broker is still in the group: stop it there
      killGroup(run.group, "SIGTERM");
    }
    expect((await run.closed).stderr).toContain('"msg":"stopped"');
  });
});

describe("README: the admin token and Inject", () => {
  it("says that an open Inject checks no token, and that a guarded one refuses the admin token", async () => {
    expect(await readme()).toContain("with no inject token set, Inject checks no token at all");
    expect(await readme()).toContain("Once an inject token is set, the admin token is not accepted for Inject");
    const inject = (tb: Awaited<ReturnType<typeof startTestBroker>>, token: string | undefined) =>
      tb
        .connect(InjectService, token)
        .inject({ mode: Mode.TEST, name: "readme-claim" })
        .then(
          () => "ok",
          (error: unknown) => Code[ConnectError.from(error).code],
        );
    const open = await startTestBroker();
    const guarded = await startTestBroker({ injectToken: { value: "readme-claims-inject-token-2c7e91f4", source: "test" } });
    try {
      for (const tb of [open, guarded]) {
        await tb
          .connect(SecretService, tb.adminToken)
          .createSecret({ mode: Mode.TEST, name: "readme-claim", credentials: { kind: { case: "bearerToken", value: { token: "v" } } } });
      }
      expect(await inject(open, open.adminToken)).toBe("ok");
      expect(await inject(open, undefined)).toBe("ok");
      expect(await inject(guarded, guarded.adminToken)).toBe("Unauthenticated");
      expect(await inject(guarded, "readme-claims-inject-token-2c7e91f4")).toBe("ok");
    } finally {
      await open.close();
      await guarded.close();
    }
  });
});
