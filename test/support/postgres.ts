/**
 * A real PostgreSQL for fleet tests: Debian's postgresql-15 as a throwaway
 * cluster in a temp dir owned by `postgres` (initdb refuses root), on
 * 127.0.0.1 and a free port, trust authentication. Stopped and removed by
 * `close()`; `stop`/`start`, `pause`/`resume` make outages.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = "/usr/lib/postgresql/15/bin";

export type PostgresAvailability = { available: true } | { available: false; reason: string };

/** Whether a cluster can run here; under CI=true a missing piece is an error, not a skip. */
export function postgresAvailable(): PostgresAvailability {
  let reason: string | undefined;
  if (!existsSync(join(bin, "initdb"))) {
    reason = `missing ${bin}/initdb (apt-get install postgresql-15)`;
  } else if (process.getuid?.() !== 0) {
    reason = "the throwaway cluster runs as the postgres user: the tests need root to switch to it";
  }
  if (reason === undefined) {
    return { available: true };
  }
  if (process.env["CI"] === "true") {
    throw new Error(`PostgreSQL tests cannot run in CI: ${reason}`);
  }
  return { available: false, reason };
}

/** A running throwaway cluster. */
export interface RunningPostgres {
  readonly port: number;
  /** A URL of a database of this cluster (created on first use by `database`). */
  url(database?: string): string;
  /** Creates a database and returns its URL. */
  database(name: string): string;
  /** Runs SQL as the superuser on a database (psql -c), returns the output rows. */
  sql(text: string, database?: string): string;
  /** `pg_ctl stop -m immediate`: a crash-like outage. */
  stop(): void;
  /** Starts the cluster again after stop(). */
  start(): void;
  /** SIGSTOP on the postmaster and every backend: a hung server. */
  pause(): void;
  /** SIGCONT on what pause() stopped. */
  resume(): void;
  /** The server log so far, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

function asPostgres(args: string[]): string {
  return execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Creates and starts a cluster (about a second). */
export async function startPostgres(): Promise<RunningPostgres> {
  const availability = postgresAvailable();
  if (!availability.available) {
    throw new Error(`PostgreSQL unavailable: ${availability.reason}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "credbroker-pg-"));
  chownSync(dir, uid("postgres"), gid("postgres"));
  const data = join(dir, "data");
  const logFile = join(dir, "log");
  const port = await freePort();
  asPostgres([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const start = () =>
    asPostgres([
      join(bin, "pg_ctl"),
      "-D",
      data,
      "-w",
      "-l",
      logFile,
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`,
      "start",
    ]);
  start();
  let paused: number[] = [];
  const url = (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const sql = (text: string, database = "postgres") =>
    asPostgres([join(bin, "psql"), "-h", dir, "-p", String(port), "-U", "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", text]);
  return {
    port,
    url,
    database(name) {
      sql(`CREATE DATABASE ${name}`);
      return url(name);
    },
    sql,
    stop: () => void asPostgres([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]),
    start: () => void start(),
    pause() {
      const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
      paused = [postmaster, ...childrenOf(postmaster)];
      for (const pid of paused) {
        process.kill(pid, "SIGSTOP");
      }
    },
    resume() {
      for (const pid of paused) {
        process.kill(pid, "SIGCONT");
      }
      paused = [];
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    async close() {
      for (const pid of paused) {
        process.kill(pid, "SIGCONT");
      }
      spawnSync("runuser", ["-u", "postgres", "--", join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function childrenOf(pid: number): number[] {
  const out = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .filter((line) => line !== "")
    .map(Number);
}

function uid(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}

function gid(user: string): number {
  return Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
}
