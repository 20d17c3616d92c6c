import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CredbrokerError } from "../errors.ts";

/** What holds a data dir: brokers share it with each other; a rekey or a fleet import shares it with no broker. */
export type HolderKind = "broker" | "rekey" | "import";

/** A process's hold on a data dir, until `release`. */
export interface DataDirHold {
  /** Removes this holder's file; the data dir is free of it. */
  release(): Promise<void>;
}

/**
 * Holds the data dir as a broker or a rekey: writes this holder's file into
 * `directory` first, then looks for a live holder of the other kind, and
 * refuses (ERR_DATA_DIR_BUSY, its own file removed) when there is one. Each
 * side announces before it looks, so of a broker and a rekey that start at
 * the same moment at least one sees the other: they never both proceed.
 *
 * A holder is named by its process id and the process's start time from
 * /proc, so a file a killed process left is recognised as stale even once
 * its pid is reused, and removed. Like LMDB's own reader table, this assumes
 * the processes sharing a data dir see one pid namespace.
 */
export async function holdDataDir(directory: string, kind: HolderKind): Promise<DataDirHold> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const self = `${kind}-${process.pid}-${startTime(process.pid)}-${randomBytes(4).toString("hex")}`;
  const path = join(directory, self);
  await writeFile(path, "", { mode: 0o600, flag: "wx" });
  const release = () => unlink(path).catch(() => undefined);
  const excludes = (holderKind: string) => (kind === "broker" ? holderKind !== "broker" : holderKind === "broker");
  for (const name of await readdir(directory)) {
    const holder = /^(broker|rekey|import)-(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (holder === null || name === self) {
      continue;
    }
    const [, holderKind, pid, start] = holder;
    if (!isAlive(Number(pid), start!)) {
      await unlink(join(directory, name)).catch(() => undefined);
    } else if (excludes(holderKind!)) {
      await release();
      throw new CredbrokerError(
        "ERR_DATA_DIR_BUSY",
        kind !== "broker"
          ? `a broker (pid ${pid}) serves this data dir; stop it before the ${kind === "rekey" ? "rekey" : "fleet import"}`
          : `a credbroker ${holderKind === "rekey" ? "rekey" : "fleet import"} (pid ${pid}) is working on this data dir; start the broker once it is done`,
      );
    }
  }
  return { release };
}

/** The process's start time in clock ticks since boot (/proc/PID/stat field 22), or 0 where there is no /proc. */
function startTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the fields after the command name, which is in parentheses and may hold spaces
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return 0;
  }
}

function isAlive(pid: number, start: string): boolean {
  if (start !== "0") {
    return String(startTime(pid)) === start;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as { code?: unknown }).code === "EPERM";
  }
}
