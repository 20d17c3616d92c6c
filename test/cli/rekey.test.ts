import { randomBytes } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { serveOnce } from "../support/serve-once.ts";
import { InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { KeyService } from "../../src/gen/credbroker/v1/key_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError } from "../../src/errors.ts";
import { startTestBroker } from "../support/broker.ts";
import { runCli } from "../support/run-cli.ts";

/** Starts `credbroker serve`; stops it with SIGTERM once it serves (or lets it exit on its own). */
/** serve's exit code and whether it served. */
async function serve(args: string[]): Promise<{ code: number | null; served: boolean }> {
  const { code, served } = await serveOnce(args);
  return { code, served };
}

const newKey = () => new Uint8Array(randomBytes(32));

function codeOf(error: unknown): string | undefined {
  return error instanceof CredbrokerError ? error.code : undefined;
}

describe("credbroker rekey", () => {
  let dataDir = "";
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("re-wraps the keyring under the new master key: the old key is refused at start-up, the new one opens every record", { timeout: 60_000 }, async () => {
    const oldKey = newKey();
    const tb = await startTestBroker({ masterKey: { value: oldKey, source: "test" } });
    dataDir = tb.dataDir;
    const secrets = tb.grpcOverConnect(SecretService, tb.adminToken);
    for (const name of ["a", "b"]) {
      await secrets.createSecret({ mode: Mode.TEST, name, credentials: { kind: { case: "bearerToken", value: { token: `tok-${name}` } } } });
    }
    // two terms, so that the rekey carries more than the first key
    await tb.grpcOverConnect(KeyService, tb.adminToken).rotateKey({});
    await secrets.createSecret({ mode: Mode.TEST, name: "c", credentials: { kind: { case: "bearerToken", value: { token: "tok-c" } } } });
    const adminToken = tb.adminToken;
    await tb.close({ keepData: true });

    const oldFile = join(dataDir, "old.key");
    const newFile = join(dataDir, "new.key");
    const wrongFile = join(dataDir, "wrong.key");
    const replacement = newKey();
    await writeFile(oldFile, Buffer.from(oldKey).toString("base64"), { mode: 0o600 });
    await writeFile(newFile, Buffer.from(replacement).toString("base64"), { mode: 0o600 });
    await writeFile(wrongFile, Buffer.from(newKey()).toString("base64"), { mode: 0o600 });

    // a wrong current key changes nothing
    const wrong = await runCli(["rekey", "--data-dir", dataDir, "--master-key-file", wrongFile, "--new-master-key-file", newFile], {});
    expect(wrong.code).toBe(1);
    expect(await serve(["--data-dir", dataDir, "--master-key-file", oldFile])).toEqual({ code: 0, served: true });

    const run = await runCli(["rekey", "--data-dir", dataDir, "--master-key-file", oldFile, "--new-master-key-file", newFile], {});
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain(Buffer.from(replacement).toString("base64"));

    expect(await serve(["--data-dir", dataDir, "--master-key-file", oldFile])).toEqual({ code: 1, served: false });
    expect(await serve(["--data-dir", dataDir, "--master-key-file", newFile])).toEqual({ code: 0, served: true });
    const refused = await startTestBroker({ dataDir, masterKey: { value: oldKey, source: "test" } }).catch((error: unknown) => error);
    expect(codeOf(refused)).toBe("ERR_MASTER_KEY_MISMATCH");

    const again = await startTestBroker({ dataDir, masterKey: { value: replacement, source: "test" }, adminToken: { value: adminToken, source: "test" } });
    try {
      const inject = again.grpcOverConnect(InjectService);
      for (const name of ["a", "b", "c"]) {
        const answer = await inject.inject({ mode: Mode.TEST, name, step: StepKind.HTTP });
        expect(answer.material.case === "http" ? answer.material.value.headers[0]?.value : undefined).toBe(`Bearer tok-${name}`);
      }
      expect((await again.grpcOverConnect(KeyService, adminToken).getKeyStatus({})).terms.map((t) => t.keyId)).toEqual([1, 2]);
    } finally {
      await again.close({ keepData: true });
    }
  });

  it("is a usage error without --new-master-key-file, and an error for a data dir that does not exist", async () => {
    dataDir = join(process.env["TMPDIR"] ?? "/tmp", `credbroker-none-${randomBytes(6).toString("hex")}`);
    expect((await runCli(["rekey", "--data-dir", dataDir], {})).code).toBe(2);
    const keyFile = `${dataDir}.key`;
    await writeFile(keyFile, Buffer.from(newKey()).toString("base64"));
    try {
      const run = await runCli(["rekey", "--data-dir", dataDir, "--new-master-key-file", keyFile], {
        CREDBROKER_MASTER_KEY: Buffer.from(newKey()).toString("base64"),
      });
      expect(run.code).toBe(1);
    } finally {
      await rm(keyFile, { force: true });
    }
  });
});
