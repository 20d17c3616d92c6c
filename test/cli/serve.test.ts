import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { serveOnce } from "../support/serve-once.ts";

const serve = serveOnce;

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

describe("credbroker serve", () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "credbroker-cli-"));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts on embedded defaults: generates master.key and admin.token (0600), warns, and exits 0 on SIGTERM", async () => {
    const run = await serve(["--data-dir", dataDir]);
    expect(run.served).toBe(true);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("generated a development master key");
    expect(run.stderr).toContain('"msg":"stopped"');
    for (const file of ["master.key", "admin.token"]) {
      expect((await stat(join(dataDir, file))).mode & 0o777).toBe(0o600);
    }
    const key = (await readFile(join(dataDir, "master.key"), "utf8")).trim();
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(run.stderr).not.toContain(key);
    expect(run.stderr).not.toContain((await readFile(join(dataDir, "admin.token"), "utf8")).trim());
    const again = await serve(["--data-dir", dataDir]);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("generated a development master key");
  });

  it("refuses a master key that does not open the data: exit 1, a clear message, data untouched", async () => {
    const good = randomBytes(32).toString("base64");
    expect((await serve(["--data-dir", dataDir], { CREDBROKER_MASTER_KEY: good })).code).toBe(0);
    const before = await sha256(join(dataDir, "credbroker.mdb"));
    const wrong = randomBytes(32).toString("base64");
    const run = await serve(["--data-dir", dataDir], { CREDBROKER_MASTER_KEY: wrong });
    expect(run.served).toBe(false);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/master key does not open/);
    expect(run.stderr).not.toContain(wrong);
    expect(await sha256(join(dataDir, "credbroker.mdb"))).toBe(before);
    expect((await serve(["--data-dir", dataDir], { CREDBROKER_MASTER_KEY: good })).code).toBe(0);
  });

  it("takes the master key from --master-key-file over the environment", async () => {
    const keyFile = join(dataDir, "..", `${randomBytes(4).toString("hex")}.key`);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(keyFile, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    try {
      expect((await serve(["--data-dir", dataDir, "--master-key-file", keyFile])).code).toBe(0);
      const run = await serve(["--data-dir", dataDir, "--master-key-file", keyFile], {
        CREDBROKER_MASTER_KEY: randomBytes(32).toString("base64"),
      });
      expect(run.code).toBe(0);
      await expect(stat(join(dataDir, "master.key"))).rejects.toThrow();
    } finally {
      await rm(keyFile, { force: true });
    }
  });

  it("refuses a malformed master key with exit 2, naming the variable", async () => {
    const run = await serve(["--data-dir", dataDir], { CREDBROKER_MASTER_KEY: "c2hvcnQ=" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("CREDBROKER_MASTER_KEY must be the base64 encoding of 32 random bytes");
    expect(run.stderr).not.toContain("c2hvcnQ=");
  });

  it("does not pair sealed data with a fresh key when master.key is gone", async () => {
    expect((await serve(["--data-dir", dataDir])).code).toBe(0);
    await unlink(join(dataDir, "master.key"));
    const run = await serve(["--data-dir", dataDir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("holds sealed data but no master key");
    await expect(stat(join(dataDir, "master.key"))).rejects.toThrow();
  });

  it("answers usage errors with exit 2", async () => {
    const run = await serve(["--no-such-flag"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("no-such-flag");
  });
});
