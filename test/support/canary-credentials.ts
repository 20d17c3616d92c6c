import { generateKeyPairSync } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { CredentialsSchema, OAuth2AuthMethod, OAuth2TokenBinding } from "../../src/gen/credbroker/v1/secret_pb.ts";

type CredentialsInit = MessageInitShape<typeof CredentialsSchema>;

/** Secrets of every type whose every sensitive field holds a canary: a text that must appear in no admin answer. */
export interface CanarySecret {
  readonly name: string;
  readonly credentials: CredentialsInit;
  /** What must never leave: each canary, and for keys a line of the key's body (a PEM cannot hold a canary). */
  readonly canaries: readonly string[];
  /** Readable fields an answer must show, by local name. */
  readonly readable: Readonly<Record<string, unknown>>;
}

/** The base64 lines of a PEM's body: any of them in an answer means the key leaked. */
function bodyLines(pem: string): string[] {
  return pem.split("\n").filter((line) => line.length > 40 && !line.startsWith("-----"));
}

const passphrase = "passphrase-canary-5c1e";
const sftpKey = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase })
  .toString();
const assertionKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const dpopKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();

/** One secret per type, plus a private_key_jwt and a DPoP OAuth2 secret, so every sensitive field of the registry is covered. */
export const canarySecrets: readonly CanarySecret[] = [
  {
    name: "c-basic",
    credentials: { kind: { case: "basicAuth", value: { username: "basic-user", password: "password-canary-0a71" } } },
    canaries: ["password-canary-0a71"],
    readable: { username: "basic-user" },
  },
  {
    name: "c-bearer",
    credentials: { kind: { case: "bearerToken", value: { token: "token-canary-19be" } } },
    canaries: ["token-canary-19be"],
    readable: {},
  },
  {
    name: "c-api-key",
    credentials: { kind: { case: "apiKey", value: { keyName: "X-Api-Key", keyValue: "key-value-canary-77d0" } } },
    canaries: ["key-value-canary-77d0"],
    readable: { keyName: "X-Api-Key" },
  },
  {
    name: "c-sftp-password",
    credentials: { kind: { case: "sftpPassword", value: { username: "sftp-user", password: "sftp-password-canary-4f2a" } } },
    canaries: ["sftp-password-canary-4f2a"],
    readable: { username: "sftp-user" },
  },
  {
    name: "c-sftp-key",
    credentials: { kind: { case: "sftpPrivateKey", value: { username: "key-user", privateKey: sftpKey, passphrase } } },
    canaries: [passphrase, ...bodyLines(sftpKey)],
    readable: { username: "key-user" },
  },
  {
    name: "c-oauth2-dpop",
    credentials: {
      kind: {
        case: "oauth2ClientCredentials",
        value: {
          clientId: "dpop-client",
          clientSecret: "client-secret-canary-e913",
          tokenUrl: "https://idp.example/token",
          scopes: ["read", "write"],
          audience: "https://api.example",
          resource: "https://api.example/v1",
          authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST,
          tokenBinding: OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP,
          dpopPrivateKey: dpopKey,
        },
      },
    },
    canaries: ["client-secret-canary-e913", ...bodyLines(dpopKey)],
    readable: {
      clientId: "dpop-client",
      tokenUrl: "https://idp.example/token",
      scopes: ["read", "write"],
      audience: "https://api.example",
      resource: "https://api.example/v1",
      authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST,
      tokenBinding: OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP,
    },
  },
  {
    name: "c-oauth2-jwt",
    credentials: {
      kind: {
        case: "oauth2ClientCredentials",
        value: {
          clientId: "jwt-client",
          tokenUrl: "https://idp.example/token",
          authMethod: OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT,
          privateKey: assertionKey,
          keyId: "kid-1",
          signingAlg: "PS256",
          assertionAudience: "https://idp.example",
        },
      },
    },
    canaries: bodyLines(assertionKey),
    readable: { clientId: "jwt-client", keyId: "kid-1", signingAlg: "PS256", assertionAudience: "https://idp.example" },
  },
  {
    name: "c-json",
    credentials: { kind: { case: "jsonCredentials", value: { json: '{"private_key":"json-canary-b6c4"}' } } },
    canaries: ["json-canary-b6c4"],
    readable: {},
  },
];
