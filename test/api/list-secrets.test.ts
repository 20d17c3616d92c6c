import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Mode, SecretSchema, type Secret } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { CreateSecretRequestSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

type CredentialsInit = NonNullable<MessageInitShape<typeof CreateSecretRequestSchema>["credentials"]>;

const privateKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

const everyType: CredentialsInit[] = [
  { kind: { case: "basicAuth", value: { username: "app", password: "pw-canary-1" } } },
  { kind: { case: "bearerToken", value: { token: "token-canary-2" } } },
  { kind: { case: "apiKey", value: { keyName: "X-API-Key", keyValue: "key-canary-3" } } },
  { kind: { case: "sftpPassword", value: { username: "deploy", password: "pw-canary-4" } } },
  { kind: { case: "sftpPrivateKey", value: { username: "deploy", privateKey } } },
  { kind: { case: "oauth2ClientCredentials", value: { clientId: "id", clientSecret: "secret-canary-5", tokenUrl: "https://idp.example/token", scopes: ["a"] } } },
  { kind: { case: "jsonCredentials", value: { json: '{"key":"json-canary-6"}' } } },
];

/** The fields of a Secret that a record stores. */
function storedPart(secret: Secret | undefined) {
  return secret === undefined ? undefined : { ...create(SecretSchema, secret), steps: [], deployState: 0, deployedFromVersion: 0n };
}

describe("ListSecrets: metadata only, paged as the full records are", () => {
  let svc: TestServices;

  beforeEach(async () => {
    svc = await createTestServices();
  });
  afterEach(async () => {
    await svc.close();
  });

  it("answers every page with the secrets a full decode of the records gives, in order, the last page with an empty token", async () => {
    for (let i = 0; i < 28; i++) {
      const name = `secret-${String((i * 9) % 28).padStart(2, "0")}`;
      await svc.secretsClient.createSecret({ mode: Mode.TEST, name, description: i % 2 === 0 ? `d${i}` : "", credentials: everyType[i % everyType.length]! });
      if (i % 5 === 0) {
        await svc.secretsClient.updateSecret({ mode: Mode.TEST, name, description: "changed" });
      }
    }
    await svc.secretsClient.deploySecrets({ names: ["secret-03", "secret-10"] });
    for (const mode of [Mode.TEST, Mode.LIVE]) {
      const full = svc.store.list(mode, "", 1000).map((record) => record.secret);
      for (const pageSize of [1, 5, 7, 28, 29]) {
        const listed: Secret[] = [];
        let pageToken = "";
        let pages = 0;
        do {
          const page = await svc.secretsClient.listSecrets({ mode, pageSize, pageToken });
          listed.push(...page.secrets);
          pageToken = page.nextPageToken;
          pages++;
        } while (pageToken !== "");
        // the stored metadata, as listed; the output-only fields are the answer's own (test/api/list-filters.test.ts)
        expect(listed.map(storedPart)).toEqual(full.map(storedPart));
        expect(pages).toBe(Math.max(1, Math.ceil(full.length / pageSize)));
      }
    }
    expect(svc.store.list(Mode.LIVE, "", 10).map((r) => r.secret?.name)).toEqual(["secret-03", "secret-10"]);
  });
});
