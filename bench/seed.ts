import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createSecretService } from "../src/api/secret-service.ts";
import type { CredentialsSchema } from "../src/gen/credbroker/v1/secret_pb.ts";
import { Mode } from "../src/gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../src/gen/credbroker/v1/secret_service_pb.ts";
import { openKeyring } from "../src/keys/keyring.ts";
import { createSealer } from "../src/seal/sealer.ts";
import { openLmdbStore } from "../src/store/lmdb-store.ts";
import { routerClient } from "../test/support/services.ts";

type CredentialsInit = MessageInitShape<typeof CredentialsSchema>;

const sftpKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** The i-th secret of a mix of every type (OAuth2 pointing at tokenUrl). */
export function mixedCredentials(i: number, tokenUrl: string): CredentialsInit {
  const tag = `bench-value-${i}`;
  const kinds: CredentialsInit[] = [
    { kind: { case: "apiKey", value: { keyName: "X-API-Key", keyValue: tag } } },
    { kind: { case: "bearerToken", value: { token: tag } } },
    { kind: { case: "basicAuth", value: { username: "user", password: tag } } },
    { kind: { case: "sftpPassword", value: { username: "deploy", password: tag } } },
    { kind: { case: "sftpPrivateKey", value: { username: "deploy", privateKey: sftpKey, passphrase: "" } } },
    { kind: { case: "oauth2ClientCredentials", value: { clientId: "bench", clientSecret: tag, tokenUrl } } },
    { kind: { case: "jsonCredentials", value: { json: JSON.stringify({ type: "service_account", key: tag }) } } },
  ];
  return kinds[i % kinds.length]!;
}

/** Creates secrets through a running broker's Connect listener. */
export async function seedOverApi(httpAddress: string, adminToken: string, secrets: { name: string; credentials: CredentialsInit }[]) {
  const client = createClient(SecretService, createConnectTransport({ baseUrl: `http://${httpAddress}`, httpVersion: "2" }));
  const headers = { authorization: `Bearer ${adminToken}` };
  for (const { name, credentials } of secrets) {
    await client.createSecret({ mode: Mode.TEST, name, credentials }, { headers });
  }
}

/**
 * Creates many test secrets straight into a stopped broker's data dir,
 * through the real SecretService (so records are exactly what the API
 * writes), many at a time so that LMDB batches the commits.
 */
export async function seedDataDir(dataDir: string, masterKey: Uint8Array, first: number, count: number, tokenUrl: string): Promise<void> {
  const store = openLmdbStore({ path: join(dataDir, "credbroker.mdb") });
  try {
    const keyring = openKeyring(masterKey, store.getMeta("keyring")!);
    const secrets = routerClient(SecretService, createSecretService({ store, sealer: createSealer(keyring), oauthTimeoutMs: 10_000 }));
    const batch = 1000;
    for (let start = first; start < first + count; start += batch) {
      const writes = [];
      for (let i = start; i < Math.min(first + count, start + batch); i++) {
        writes.push(secrets.createSecret({ mode: Mode.TEST, name: secretName(i), credentials: mixedCredentials(i, tokenUrl) }));
      }
      await Promise.all(writes);
    }
  } finally {
    await store.close();
  }
}

/** The name of the i-th seeded secret; names sort in seeding order. */
export function secretName(i: number): string {
  return `secret-${String(i).padStart(6, "0")}`;
}
