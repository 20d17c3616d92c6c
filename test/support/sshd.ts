/**
 * A real OpenSSH sshd for SFTP tests: its own host key, config and
 * authorized_keys in a temp dir, listening on 127.0.0.1 and a free port,
 * serving SFTP only to the dedicated system user `credbroker-sftp`.
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const SSHD = "/usr/sbin/sshd";
const USER = "credbroker-sftp";
/** A file in the SFTP start directory, so a listing proves the session is real. */
export const SFTP_WELCOME_FILE = "welcome.txt";
// Password logins change the one user's password: concurrent test files take turns.
const PASSWORD_LOCK = join(tmpdir(), "credbroker-sftp-password.lock");

export interface SshdOptions {
  /** Sets the user's password (via chpasswd, on stdin); omit for key-only logins. */
  password?: string;
  /** authorized_keys lines, e.g. `ssh-ed25519 AAAA...`. */
  authorizedKeys?: string[];
}

export interface RunningSshd {
  host: string;
  port: number;
  username: string;
  /** The host key as an SSH wire blob, for the client's hostVerifier. */
  hostKey: Buffer;
  /** What sshd logged so far (auth decisions), for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export type SshdAvailability = { available: true } | { available: false; reason: string };

/** Whether sshd can run here; under CI=true a missing piece is an error, not a skip. */
export function sshdAvailable(): SshdAvailability {
  const missing = [SSHD, "ssh-keygen", "useradd", "usermod", "chpasswd"].filter((tool) => findTool(tool) === undefined);
  let reason: string | undefined;
  if (missing.length > 0) reason = `missing ${missing.join(", ")} (install openssh-server and passwd)`;
  else if (process.getuid?.() !== 0) reason = "sshd and useradd need root";
  if (reason === undefined) return { available: true };
  if (process.env["CI"] === "true") throw new Error(`SFTP tests cannot run in CI: ${reason}`);
  return { available: false, reason };
}

/** Starts sshd; resolves once it answers with an SSH banner. */
export async function startSshd(options: SshdOptions = {}): Promise<RunningSshd> {
  const availability = sshdAvailable();
  if (!availability.available) throw new Error(`sshd unavailable: ${availability.reason}`);
  const account = ensureUser();
  const dir = mkdtempSync(join(tmpdir(), "credbroker-sshd-"));
  let releaseLock: (() => void) | undefined;
  try {
    // The user reads authorized_keys and its start dir through this dir.
    chmodSync(dir, 0o755);
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const home = join(dir, "home");
    mkdirSync(home);
    writeFileSync(join(home, SFTP_WELCOME_FILE), "served by the credbroker test sshd\n");
    chownSync(home, account.uid, account.gid);
    writeFileSync(join(dir, "authorized_keys"), (options.authorizedKeys ?? []).map((line) => `${line.trim()}\n`).join(""), { mode: 0o644 });
    const hostKeyFile = join(dir, "ssh_host_ed25519_key");
    run(tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "credbroker-test-host", "-f", hostKeyFile]);
    const hostKey = Buffer.from(readFileSync(`${hostKeyFile}.pub`, "utf8").split(" ")[1] ?? "", "base64");
    if (options.password !== undefined) {
      if (/[\r\n]/.test(options.password) || options.password === "") throw new Error("password must be one non-empty line");
      releaseLock = await lockPassword();
      run(tool("chpasswd"), [], `${USER}:${options.password}\n`);
    }
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      writeFileSync(join(dir, "sshd_config"), config(dir, port, hostKeyFile, home));
      const server = spawnSshd(join(dir, "sshd_config"));
      try {
        await waitForBanner(port, server);
      } catch (error) {
        await server.stop();
        if (attempt < 3 && /Address already in use/.test(server.log())) continue;
        throw error;
      }
      const unlock = releaseLock;
      releaseLock = undefined;
      return {
        host: "127.0.0.1", port, username: USER, hostKey, log: server.log,
        async close() {
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
          // Leave no working password behind: `*` matches no password yet,
          // unlike `!`, does not lock the account against key logins.
          if (unlock !== undefined) {
            run(tool("usermod"), ["-p", "*", USER]);
            unlock();
          }
        },
      };
    }
  } catch (error) {
    releaseLock?.();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function config(dir: string, port: number, hostKeyFile: string, home: string): string {
  return [
    "ListenAddress 127.0.0.1", `Port ${port}`, `HostKey ${hostKeyFile}`, `PidFile ${join(dir, "sshd.pid")}`,
    "UsePAM no", "PasswordAuthentication yes", "PermitEmptyPasswords no", "PubkeyAuthentication yes",
    "KbdInteractiveAuthentication no", `AuthorizedKeysFile ${join(dir, "authorized_keys")}`, "StrictModes no",
    "PermitRootLogin no", `AllowUsers ${USER}`, "Subsystem sftp internal-sftp",
    // The account has no home; -d starts every session in the fixture's dir.
    `ForceCommand internal-sftp -d ${home}`, "AllowTcpForwarding no", "AllowAgentForwarding no",
    "X11Forwarding no", "PermitTTY no", "UseDNS no", "PrintMotd no", "LogLevel VERBOSE", "",
  ].join("\n");
}

function spawnSshd(configFile: string): { process: ChildProcess; log(): string; stop(): Promise<void> } {
  // Own process group, so stop() also ends the per-connection children.
  const child = spawn(SSHD, ["-D", "-e", "-f", configFile], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => { output += chunk; });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-child.pid, signal); } catch { /* already gone */ }
  };
  const onExit = () => killGroup("SIGKILL");
  process.once("exit", onExit);
  return {
    process: child,
    log: () => output,
    async stop() {
      process.off("exit", onExit);
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForBanner(port: number, server: { process: ChildProcess; log(): string }): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (server.process.exitCode !== null) throw new Error(`sshd exited (${server.process.exitCode}): ${server.log()}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      let received = "";
      socket.setEncoding("utf8").setTimeout(1_000, () => socket.destroy());
      socket.on("data", (chunk: string) => { received += chunk; if (received.includes("\n")) socket.destroy(); });
      socket.on("error", () => undefined).on("close", () => resolve(received));
    });
    if (banner.startsWith("SSH-2.0-")) return;
    await sleep(50);
  }
  throw new Error(`sshd did not answer on port ${port}: ${server.log()}`);
}

function ensureUser(): { uid: number; gid: number } {
  const id = () => {
    const uid = spawnSync("id", ["-u", USER], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", USER], { encoding: "utf8" });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
  };
  const existing = id();
  if (existing !== undefined) return existing;
  const shell = ["/usr/sbin/nologin", "/sbin/nologin", "/bin/false"].find((path) => existsSync(path)) ?? "/bin/false";
  // A concurrent test file may create it first; only a still-missing user is an error.
  const created = spawnSync(tool("useradd"), ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", shell, "--password", "*", USER], { encoding: "utf8" });
  const after = id();
  if (after === undefined) throw new Error(`useradd ${USER} failed: ${created.stderr}`);
  return after;
}

async function lockPassword(): Promise<() => void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fd = openSync(PASSWORD_LOCK, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(PASSWORD_LOCK, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (lockIsStale()) {
      try { unlinkSync(PASSWORD_LOCK); } catch { /* someone else cleaned up */ }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${PASSWORD_LOCK}`);
    await sleep(100);
  }
}

/** The holder died without releasing, or never wrote its pid. */
function lockIsStale(): boolean {
  try {
    const holder = Number(readFileSync(PASSWORD_LOCK, "utf8"));
    if (Number.isInteger(holder) && holder > 0) return holder !== process.pid && !isAlive(holder);
    return Date.now() - statSync(PASSWORD_LOCK).mtimeMs > 5_000;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function findTool(name: string): string | undefined {
  const dirs = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"];
  const paths = name.startsWith("/") ? [name] : dirs.map((dir) => join(dir, name));
  return paths.find((path) => existsSync(path));
}

function tool(name: string): string {
  const path = findTool(name);
  if (path === undefined) throw new Error(`${name} is not installed`);
  return path;
}

function run(command: string, args: string[], input?: string): void {
  const result = spawnSync(command, args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  // stderr only: chpasswd reads the password on stdin and never echoes it.
  if (result.status !== 0) throw new Error(`${command} failed (${result.status}): ${result.stderr}`);
}
