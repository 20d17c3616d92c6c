import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { holdDataDir } from "../../src/broker/data-dir-holders.ts";
import { KeyService } from "../../src/gen/credbroker/v1/key_service_pb.ts";
import { startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";
import { serveOnce } from "../support/serve-once.ts";
import { runCli } from "../support/run-cli.ts";

const keyText = () => randomBytes(32).toString("base64");

describe("a data dir held by a broker or a rekey", () => {
  const brokers: BrokerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((broker) => broker.stop()));
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function keyFiles(): Promise<{ dir: string; oldFile: string; newFile: string }> {
    const dir = await mkdtemp(join(tmpdir(), "credbroker-holders-"));
    dirs.push(dir);
    const oldFile = join(dir, "old.key");
    const newFile = join(dir, "new.key");
    await writeFile(oldFile, keyText(), { mode: 0o600 });
    await writeFile(newFile, keyText(), { mode: 0o600 });
    return { dir, oldFile, newFile };
  }

  it("rekey refuses with exit 2 while a broker process serves the data dir, and runs once it stopped", { timeout: 60_000 }, async () => {
    const { dir, oldFile, newFile } = await keyFiles();
    const dataDir = join(dir, "data");
    const broker = await startBrokerProcess({ dataDir, args: ["--master-key-file", oldFile] });
    brokers.push(broker);
    const rekeyArgs = ["rekey", "--data-dir", dataDir, "--master-key-file", oldFile, "--new-master-key-file", newFile];

    const refused = await runCli(rekeyArgs, {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("ERR_DATA_DIR_BUSY");
    expect(refused.stderr).toContain(`pid ${broker.child.pid}`);
    // the keyring is as the broker holds it: a rotation's compare-and-swap still succeeds
    const keys = createClient(
      KeyService,
      createConnectTransport({
        baseUrl: `http://${broker.httpAddress}`,
        httpVersion: "1.1",
        interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${broker.adminToken}`), next(req))],
      }),
    );
    expect((await keys.rotateKey({})).newTerm?.keyId).toBe(2);
    // the refused rekey left no holder of its own behind
    expect((await readdir(join(dataDir, "holders"))).filter((name) => name.startsWith("rekey-"))).toEqual([]);

    await broker.stop();
    brokers.splice(0);
    const done = await runCli(rekeyArgs, {});
    expect(done.code).toBe(0);
    expect(await readdir(join(dataDir, "holders"))).toEqual([]);
  });

  it("a broker does not start while a rekey holds the data dir", { timeout: 60_000 }, async () => {
    const { dir, oldFile } = await keyFiles();
    const dataDir = join(dir, "data");
    await mkdir(dataDir, { mode: 0o700 });
    const rekey = await holdDataDir(join(dataDir, "holders"), "rekey");
    try {
      const run = await serveOnce(["--data-dir", dataDir, "--master-key-file", oldFile, "--listen", "127.0.0.1:0", "--http-listen", "off", "--metrics-listen", "off"]);
      expect(run.served).toBe(false);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain("ERR_DATA_DIR_BUSY");
    } finally {
      await rekey.release();
    }
    expect(await readdir(join(dataDir, "holders"))).toEqual([]);
  });

  it("a holder's file that a killed process left is stale: removed, and no refusal", async () => {
    const { dir } = await keyFiles();
    const holders = join(dir, "holders");
    await mkdir(holders, { mode: 0o700 });
    // no process has this pid and start time
    await writeFile(join(holders, "broker-4194304-1-00c0ffee"), "", { mode: 0o600 });
    const hold = await holdDataDir(holders, "rekey");
    expect((await readdir(holders)).filter((name) => name.startsWith("broker-"))).toEqual([]);
    await hold.release();
  });

  it("brokers share a data dir with each other; a rekey shares it with none", async () => {
    const { dir } = await keyFiles();
    const holders = join(dir, "holders");
    const first = await holdDataDir(holders, "broker");
    const second = await holdDataDir(holders, "broker");
    await expect(holdDataDir(holders, "rekey")).rejects.toMatchObject({ code: "ERR_DATA_DIR_BUSY" });
    await first.release();
    await second.release();
    const rekey = await holdDataDir(holders, "rekey");
    await expect(holdDataDir(holders, "broker")).rejects.toMatchObject({ code: "ERR_DATA_DIR_BUSY" });
    await rekey.release();
    expect(await readdir(holders)).toEqual([]);
  });
});
