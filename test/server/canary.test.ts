import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { InjectRequestSchema, InjectResponseSchema, InjectService } from "../../src/gen/credbroker/v1/inject_service_pb.ts";
import { Mode, StepKind } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker } from "../support/broker.ts";
import { createGrpcJsClient } from "../support/grpc-client.ts";

/** A value that must never show up anywhere but in Inject's answer. */
const canary = (label: string) => `canary${label}${randomBytes(8).toString("hex")}`;

describe("canaries: credential values reach no log, error or stored byte", () => {
  it("keeps every credential out of logs, error texts and the LMDB files", async () => {
    const tb = await startTestBroker();
    const values: string[] = [];
    const remember = (value: string) => (values.push(value), value);
    const key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    values.push(key.split("\n")[1]!);
    const admin = tb.connect(SecretService, tb.adminToken);
    const errors: string[] = [];
    const expectError = async (call: Promise<unknown>) => {
      const error = await call.then(() => undefined, (e: unknown) => e);
      expect(error, "the call should have failed").toBeInstanceOf(ConnectError);
      errors.push(String((error as ConnectError).message), JSON.stringify((error as ConnectError).details));
    };
    try {
      const credentials = [
        { case: "basicAuth" as const, value: { username: remember(canary("user")), password: remember(canary("pass")) } },
        { case: "bearerToken" as const, value: { token: remember(canary("token")) } },
        { case: "apiKey" as const, value: { keyName: "X-Key", keyValue: remember(canary("apikey")) } },
        { case: "sftpPassword" as const, value: { username: "deploy", password: remember(canary("sftppass")) } },
        { case: "sftpPrivateKey" as const, value: { username: "deploy", privateKey: key, passphrase: "" } },
        {
          case: "oauth2ClientCredentials" as const,
          value: { clientId: "client", clientSecret: remember(canary("clientsecret")), tokenUrl: "https://idp.example/token" },
        },
        { case: "jsonCredentials" as const, value: { json: JSON.stringify({ private_key: remember(canary("json")) }) } },
      ];
      for (const [i, kind] of credentials.entries()) {
        await admin.createSecret({ mode: Mode.TEST, name: `secret-${i}`, description: "canary test", credentials: { kind } });
      }
      await admin.deploySecrets({ names: credentials.map((_, i) => `secret-${i}`) });
      await admin.updateSecret({ mode: Mode.TEST, name: "secret-1", credentials: { kind: { case: "bearerToken", value: { token: remember(canary("rotated")) } } } });

      // bad input that carries values: the errors name fields, not values
      await expectError(admin.createSecret({ mode: Mode.TEST, name: "bad-1", credentials: { kind: { case: "bearerToken", value: { token: `${remember(canary("crlf"))}\r\nX: y` } } } }));
      await expectError(admin.createSecret({ mode: Mode.TEST, name: "bad-2", credentials: { kind: { case: "jsonCredentials", value: { json: `[${remember(canary("badjson"))}` } } } }));
      await expectError(admin.createSecret({ mode: Mode.TEST, name: "bad-3", credentials: { kind: { case: "sftpPrivateKey", value: { username: "u", privateKey: `-----BEGIN PRIVATE KEY-----\n${remember(canary("badkey"))}\n-----END PRIVATE KEY-----\n`, passphrase: remember(canary("phrase")) } } } }));
      await expectError(admin.updateSecret({ mode: Mode.TEST, name: "secret-0", credentials: { kind: { case: "bearerToken", value: { token: remember(canary("typechange")) } } } }));
      await expectError(admin.createSecret({ mode: Mode.TEST, name: "secret-0", credentials: { kind: { case: "bearerToken", value: { token: remember(canary("exists")) } } } }));
      await expectError(tb.connect(SecretService, remember(canary("wrongadmintoken"))).listSecrets({ mode: Mode.TEST }));
      await expectError(tb.connect(InjectService).inject({ mode: Mode.TEST, name: "secret-0", step: StepKind.SFTP }));

      // Inject hands the values out, over both listeners, and nothing else does
      const grpcClient = createGrpcJsClient(InjectService, tb.broker.grpcAddress);
      for (const [i, kind] of credentials.entries()) {
        if (kind.case === "oauth2ClientCredentials") continue;
        for (const mode of [Mode.TEST, Mode.LIVE]) {
          const res = await grpcClient.call("Inject", InjectRequestSchema, InjectResponseSchema, { mode, name: `secret-${i}`, step: StepKind.CODE });
          expect(res.ok).toBe(true);
          await tb.connect(InjectService).inject({ mode, name: `secret-${i}` });
        }
      }
      grpcClient.close();
    } finally {
      await tb.close({ keepData: true });
    }
    try {
      const logs = tb.logs();
      expect(logs).toContain("InjectService/Inject");
      // every file, the audit segments' directory included
      const files = (await readdir(tb.dataDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
      const stored = (await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name))))).map((b) => b.toString("latin1"));
      expect(stored.join("").length).toBeGreaterThan(10_000);
      for (const value of values) {
        expect(logs, "a log line").not.toContain(value);
        expect(errors.join("\n"), "an error text").not.toContain(value);
        for (const bytes of stored) {
          expect(bytes.includes(value), "the data dir").toBe(false);
        }
      }
      // the broker's own log and errors carry no canary at all, not even a fragment
      expect(logs).not.toMatch(/canary/);
      expect(errors.join("\n")).not.toMatch(/canary/);
    } finally {
      await rm(tb.dataDir, { recursive: true, force: true });
    }
  });
});
