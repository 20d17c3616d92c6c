import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { open } from "lmdb";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

const livePassword = "live-password-canary-7c1e";
const testPassword = "test-password-canary-0b44";

/** Copies the stored bytes of one LMDB key to others, as someone with write access to the data file could, offline. */
async function copyRecord(dataDir: string, from: string, to: readonly string[]): Promise<void> {
  const root = open({ path: join(dataDir, "credbroker.mdb"), maxDbs: 4 });
  const secrets = root.openDB<Uint8Array, string>({ name: "secrets", encoding: "binary", useVersions: true });
  try {
    const entry = secrets.getEntry(from);
    expect(entry).toBeDefined();
    for (const key of to) {
      await secrets.put(key, entry!.value, entry!.version ?? 1);
    }
  } finally {
    await root.close();
  }
}

describe("a sealed record moved under another key", () => {
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await tb?.close();
    tb = undefined;
  });

  it("answers DATA_LOSS for a live record copied under a test key or another name, on both listeners", async () => {
    const first = await startTestBroker();
    const admin = first.connect(SecretService, first.adminToken);
    const basic = (password: string) => ({ kind: { case: "basicAuth" as const, value: { username: "app", password } } });
    await admin.createSecret({ mode: Mode.TEST, name: "prod-db", credentials: basic(livePassword) });
    await admin.deploySecrets({ names: ["prod-db"] });
    await admin.updateSecret({ mode: Mode.TEST, name: "prod-db", credentials: basic(testPassword) });
    await admin.createSecret({ mode: Mode.TEST, name: "other-db", credentials: basic(testPassword) });
    await first.close({ keepData: true });
    await copyRecord(first.dataDir, "live/prod-db", ["test/prod-db", "test/other-db", "live/renamed-db"]);

    tb = await startTestBroker({
      dataDir: first.dataDir,
      masterKey: { value: first.masterKey, source: "test" },
      adminToken: { value: first.adminToken, source: "test" },
    });
    const grpcClient = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
    try {
      for (const [mode, name] of [[Mode.TEST, "prod-db"], [Mode.TEST, "other-db"], [Mode.LIVE, "renamed-db"]] as const) {
        const viaConnect = await tb.connect(InjectService).inject({ mode, name }).catch((e: unknown) => ConnectError.from(e));
        expect(viaConnect).toBeInstanceOf(ConnectError);
        expect((viaConnect as ConnectError).code).toBe(Code.DataLoss);
        expect((viaConnect as ConnectError).message).not.toContain(livePassword);
        const viaGrpc = await grpcClient.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode, name });
        expect(viaGrpc).toMatchObject({ ok: false, code: grpc.status.DATA_LOSS });
        // the admin reads do not show the moved record's metadata as if it were this secret's
        const got = await tb.connect(SecretService, tb.adminToken).getSecret({ mode, name }).catch((e: unknown) => ConnectError.from(e));
        expect((got as ConnectError).code).toBe(Code.DataLoss);
      }
      const listed = await tb.connect(SecretService, tb.adminToken).listSecrets({ mode: Mode.TEST }).catch((e: unknown) => ConnectError.from(e));
      expect((listed as ConnectError).code).toBe(Code.DataLoss);
      // the record where it belongs still serves its own mode and name
      const live = await tb.connect(InjectService).inject({ mode: Mode.LIVE, name: "prod-db" });
      expect(live.material.case).toBe("http");
      expect(tb.logs()).not.toContain(livePassword);
      expect(tb.logs()).not.toContain(Buffer.from(`app:${livePassword}`).toString("base64"));
    } finally {
      grpcClient.close();
    }
  });
});
