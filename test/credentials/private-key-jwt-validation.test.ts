/**
 * The private_key_jwt rules, called on the SecretService through a router
 * transport over a real LMDB store: each bad key, algorithm, kid or audience
 * answers INVALID_ARGUMENT, ERR_INVALID_FIELD naming its field in the error
 * details, quotes no key, and writes nothing.
 */
import { generateKeyPairSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialFaults } from "../../src/credentials/credential-faults.ts";
import { CredentialsSchema, Mode, OAuth2AuthMethod } from "../../src/gen/credbroker/v1/secret_pb.ts";
import type { OAuth2ClientCredentials } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { detailsOfConnectError, expectErrorDetails } from "../support/error-details.ts";
import { createTestServices, type TestServices } from "../support/services.ts";

/** Some OAuth2 fields, as a test sets them. */
type Fields = Omit<Partial<OAuth2ClientCredentials>, "$typeName" | "$unknown">;

const PKJWT = OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT;
const field = (name: string) => `credentials.oauth2ClientCredentials.${name}`;
const pem = (key: KeyObject, type: "pkcs8" | "pkcs1" | "sec1" = "pkcs8") => key.export({ format: "pem", type }).toString();

const rsa2048 = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
const ed25519 = generateKeyPairSync("ed25519").privateKey;
const x25519 = generateKeyPairSync("x25519").privateKey;
const encrypted = p256.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "pass" }).toString();
const publicPem = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "pem", type: "spki" }).toString();
const { d: _d, ...publicJwk } = p256.export({ format: "jwk" });

const base = { clientId: "client", tokenUrl: "https://idp.example/token", authMethod: PKJWT, privateKey: pem(p256) };
const credentials = (more: Fields) => ({ kind: { case: "oauth2ClientCredentials" as const, value: { ...base, ...more } } });

describe("private_key_jwt validation at create time", () => {
  let svc: TestServices;
  beforeAll(async () => {
    svc = await createTestServices();
  });
  afterAll(async () => {
    await svc.close();
  });

  const refusals: [string, Fields, string][] = [
    ["no key", { privateKey: "" }, "privateKey"],
    ["text that is no key", { privateKey: "not a key at all" }, "privateKey"],
    ["a PEM with a broken body", { privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" }, "privateKey"],
    ["an encrypted PKCS#8 key", { privateKey: encrypted }, "privateKey"],
    ["a public key", { privateKey: publicPem }, "privateKey"],
    ["a public JWK", { privateKey: JSON.stringify(publicJwk) }, "privateKey"],
    ["broken JSON", { privateKey: "{ not json" }, "privateKey"],
    ["a 1024-bit RSA key", { privateKey: pem(rsa1024) }, "privateKey"],
    ["a P-384 key", { privateKey: pem(p384, "sec1") }, "privateKey"],
    ["an X25519 key", { privateKey: pem(x25519) }, "privateKey"],
    ["a JWK whose alg does not fit", { privateKey: JSON.stringify({ ...p256.export({ format: "jwk" }), alg: "RS256" }) }, "privateKey"],
    ["an unknown alg", { signingAlg: "HS256" }, "signingAlg"],
    ["an alg of another key type", { signingAlg: "RS256" }, "signingAlg"],
    ["PS256 for an Ed25519 key", { privateKey: pem(ed25519), signingAlg: "PS256" }, "signingAlg"],
    ["a kid with a line break", { keyId: "kid\n1" }, "keyId"],
    ["an audience with a control character", { assertionAudience: "https://idp.example\u0000" }, "assertionAudience"],
    ["a client secret besides the key", { clientSecret: "s3cret" }, "clientSecret"],
  ];

  it.each(refusals)("refuses %s, naming the field, quoting no key", async (_label, more, name) => {
    const error = await svc.secretsClient.createSecret({ mode: Mode.TEST, name: "pk", credentials: credentials(more) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectError);
    const quoted = [more.privateKey, more.clientSecret].filter((v) => v !== undefined && v.length > 8).map((v) => v!.split("\n")[1] ?? v!);
    expectErrorDetails(detailsOfConnectError(error), { code: Code.InvalidArgument, reason: "ERR_INVALID_FIELD", field: field(name) }, quoted);
    const text = `${(error as Error).message} ${(error as Error).stack ?? ""}`;
    for (const value of quoted) {
      expect(text).not.toContain(value);
    }
    expect(svc.store.get(Mode.TEST, "pk")).toBeUndefined();
  });

  it("refuses the private_key_jwt fields with another method, and wants the client secret there", async () => {
    const basic = OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC;
    const faults = (more: Fields) =>
      credentialFaults(create(CredentialsSchema, credentials({ authMethod: basic, privateKey: "", ...more }))).map((f) => `${f.path} ${f.kind}`);
    expect(faults({})).toEqual([`${field("clientSecret")} required`]);
    expect(faults({ clientSecret: "s", privateKey: pem(p256), keyId: "k", signingAlg: "ES256", assertionAudience: "a" })).toEqual(
      ["privateKey", "keyId", "signingAlg", "assertionAudience"].map((name) => `${field(name)} invalid`),
    );
    expect(faults({ clientSecret: "s" })).toEqual([]);
  });

  it("accepts each key format and algorithm it documents", async () => {
    const accepted: Fields[] = [
      { privateKey: pem(rsa2048) },
      { privateKey: pem(rsa2048, "pkcs1"), signingAlg: "PS256", keyId: "rsa-1" },
      { privateKey: pem(p256, "sec1"), signingAlg: "ES256" },
      { privateKey: JSON.stringify(p256.export({ format: "jwk" })) },
      { privateKey: pem(ed25519), signingAlg: "EdDSA", assertionAudience: "https://idp.example" },
      { privateKey: JSON.stringify(ed25519.export({ format: "jwk" })), signingAlg: "Ed25519" },
    ];
    for (const [i, more] of accepted.entries()) {
      const { secret } = await svc.secretsClient.createSecret({ mode: Mode.TEST, name: `ok-${i}`, credentials: credentials(more) });
      expect(secret?.version).toBe(1n);
    }
  });
});
