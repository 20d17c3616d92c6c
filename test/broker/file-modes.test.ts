/**
 * What `credbroker serve` and `credbroker rekey` leave in a data dir that
 * existed beforehand with mode 0755, under umasks that let files be born
 * readable by others: every file 0600, every directory the broker creates
 * 0700, and one warning that names the open data dir. Real processes.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serveOnce } from "../support/serve-once.ts";
import { runCli } from "../support/run-cli.ts";

/** Every file and directory under root (root itself included, as "."), with its permission bits in octal. */
async function modes(root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = { ".": ((await stat(root)).mode & 0o777).toString(8) };
  for (const entry of await readdir(root, { recursive: true })) {
    found[entry] = ((await stat(join(root, entry))).mode & 0o777).toString(8);
  }
  return found;
}

/** Runs child processes under a umask: they inherit this process's (vitest runs each test file in a child process). */
async function withUmask<T>(mask: number, run: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await run();
  } finally {
    process.umask(previous);
  }
}

/** The log lines that warn about an open data dir. */
function openDirWarnings(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line["msg"] === "the data dir is open to its group or others; chmod 700 it");
}

describe("file modes in the data dir", () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "credbroker-modes-"));
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  async function openDataDir(name: string): Promise<string> {
    const dataDir = join(scratch, name);
    await mkdir(dataDir);
    await chmod(dataDir, 0o755);
    return dataDir;
  }

  it("serve writes every file 0600 into a data dir created 0755 beforehand, whatever the umask, and warns once naming it", async () => {
    for (const mask of [0o022, 0o000]) {
      const dataDir = await openDataDir(`umask-${mask.toString(8)}`);
      const run = await withUmask(mask, () => serveOnce(["--data-dir", dataDir]));
      expect(run).toMatchObject({ code: 0, served: true });
      expect(await modes(dataDir), `umask ${mask.toString(8)}`).toEqual({
        ".": "755",
        "admin.token": "600",
        // the audit segments' directory, empty after a clean stop
        audit: "700",
        "credbroker.mdb": "600",
        "credbroker.mdb-lock": "600",
        // one file per process holding the data dir, empty after a clean stop
        holders: "700",
        "master.key": "600",
      });
      expect(openDirWarnings(run.stderr)).toEqual([expect.objectContaining({ path: dataDir, mode: "755" })]);
    }
  });

  it("serve creates a missing data dir, and its missing parents, 0700 and does not warn", async () => {
    const dataDir = join(scratch, "parent", "data");
    const run = await withUmask(0o000, () => serveOnce(["--data-dir", dataDir]));
    expect(run).toMatchObject({ code: 0, served: true });
    expect(await modes(join(scratch, "parent"))).toEqual({
      ".": "700",
      data: "700",
      "data/admin.token": "600",
      "data/audit": "700",
      "data/credbroker.mdb": "600",
      "data/credbroker.mdb-lock": "600",
      "data/holders": "700",
      "data/master.key": "600",
    });
    expect(openDirWarnings(run.stderr)).toEqual([]);
  });

  it("serve narrows to 0600 the store files an earlier build left 0644", async () => {
    const dataDir = await openDataDir("earlier-build");
    expect(await serveOnce(["--data-dir", dataDir])).toMatchObject({ code: 0, served: true });
    for (const file of ["credbroker.mdb", "credbroker.mdb-lock"]) {
      await chmod(join(dataDir, file), 0o644);
    }
    expect(await serveOnce(["--data-dir", dataDir])).toMatchObject({ code: 0, served: true });
    const files = await modes(dataDir);
    expect([files["credbroker.mdb"], files["credbroker.mdb-lock"]]).toEqual(["600", "600"]);
  });

  it("rekey leaves every file of the data dir 0600, the lock file it creates too", async () => {
    const dataDir = await openDataDir("rekeyed");
    expect(await withUmask(0o022, () => serveOnce(["--data-dir", dataDir]))).toMatchObject({ code: 0, served: true });
    // a data dir restored from a backup that left out the lock file: rekey creates it
    await unlink(join(dataDir, "credbroker.mdb-lock"));
    const newKeyFile = join(scratch, "new.key");
    await writeFile(newKeyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
    const run = await withUmask(0o022, () => runCli(["rekey", "--data-dir", dataDir, "--new-master-key-file", newKeyFile], {}));
    expect(run.code, run.stderr).toBe(0);
    const files = await modes(dataDir);
    expect(Object.keys(files).sort()).toEqual([".", "admin.token", "audit", "credbroker.mdb", "credbroker.mdb-lock", "holders", "master.key"]);
    for (const [file, mode] of Object.entries(files)) {
      expect(mode, file).toBe(file === "." ? "755" : file === "audit" || file === "holders" ? "700" : "600");
    }
  });
});
