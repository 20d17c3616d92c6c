import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";

/** Where a data dir keeps what: the one place that names its files. */
export interface DataDirFiles {
  /** The LMDB environment (a file, with its `-lock` file beside it). */
  readonly store: string;
  /** The generated development master key, when none is configured. */
  readonly masterKey: string;
  /** The generated admin token, when none is configured. */
  readonly adminToken: string;
  /** This data dir's audit segment files. */
  readonly audit: string;
  /** One file per process that holds the data dir (brokers, a rekey). */
  readonly holders: string;
}

/** The files of the data dir at `dataDir`. */
export function dataDirFiles(dataDir: string): DataDirFiles {
  return {
    store: join(dataDir, "credbroker.mdb"),
    masterKey: join(dataDir, "master.key"),
    adminToken: join(dataDir, "admin.token"),
    audit: join(dataDir, "audit"),
    holders: join(dataDir, "holders"),
  };
}

/**
 * Creates the data dir (0700) if needed, and says once that it lets its
 * group or others in: the broker's files are 0600 whatever the dir's mode,
 * but others could still list secret-free file names, or, given write
 * access, replace the files.
 */
export async function prepareDataDir(dataDir: string, logger: Logger): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const mode = (await stat(dataDir)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn({ path: dataDir, mode: mode.toString(8) }, "the data dir is open to its group or others; chmod 700 it");
  }
}
