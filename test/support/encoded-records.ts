import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SecretRecordSchema, type SecretRecord } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, Mode, SecretSchema, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createKeyring } from "../../src/keys/keyring.ts";
import { bindingOf } from "../../src/seal/record-binding.ts";
import { createSealer } from "../../src/seal/sealer.ts";

/** Encoded SecretRecords for the tests of the walks that read them without a full decode (record-secret.ts, record-seal.ts). */

type Kind = NonNullable<MessageInitShape<typeof CredentialsSchema>["kind"]>;

/** One credential of every Credentials case, with the type a secret holding it has. */
export const everyType: Record<NonNullable<Kind["case"]>, [SecretType, Kind]> = {
  basicAuth: [SecretType.BASIC_AUTH, { case: "basicAuth", value: { username: "app", password: "pw-canary" } }],
  bearerToken: [SecretType.BEARER_TOKEN, { case: "bearerToken", value: { token: "token-canary" } }],
  apiKey: [SecretType.API_KEY, { case: "apiKey", value: { keyName: "X-API-Key", keyValue: "key-canary" } }],
  sftpPassword: [SecretType.SFTP_PASSWORD, { case: "sftpPassword", value: { username: "deploy", password: "pw-canary" } }],
  sftpPrivateKey: [
    SecretType.SFTP_PRIVATE_KEY,
    { case: "sftpPrivateKey", value: { username: "deploy", privateKey: "-----BEGIN PRIVATE KEY-----\n".repeat(40), passphrase: "p" } },
  ],
  oauth2ClientCredentials: [
    SecretType.OAUTH2_CLIENT_CREDENTIALS,
    { case: "oauth2ClientCredentials", value: { clientId: "id", clientSecret: "secret-canary", tokenUrl: "https://idp.example/token", scopes: ["a", "b"] } },
  ],
  jsonCredentials: [SecretType.JSON_CREDENTIALS, { case: "jsonCredentials", value: { json: '{"key":"json-canary"}' } }],
};

const sealer = createSealer(createKeyring(new Uint8Array(randomBytes(32)), new Date()).keyring);

/** A record as SecretService writes it: full metadata and a real sealed payload. */
export function sealedRecord(name: string, type: SecretType, kind: Kind): SecretRecord {
  const now = timestampFromDate(new Date("2024-05-06T07:08:09.123Z"));
  const secret = create(SecretSchema, { name, mode: Mode.TEST, type, description: `about ${name}`, version: 7n, createTime: now, updateTime: now, generation: 5n });
  const payload = sealer.seal(bindingOf(secret), toBinary(CredentialsSchema, create(CredentialsSchema, { kind })));
  return create(SecretRecordSchema, { secret, payload });
}

/** The record's bytes with extra fields written in front and behind (unknown to this build). */
export function withUnknownFields(bytes: Uint8Array): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(9, WireType.Varint).uint64(2n ** 63n);
  writer.tag(10, WireType.Bit64).fixed64(5n);
  writer.tag(11, WireType.LengthDelimited).bytes(new Uint8Array(300).fill(7));
  writer.raw(bytes);
  writer.tag(12, WireType.Bit32).fixed32(9);
  writer.tag(536_870_911, WireType.LengthDelimited).string("the largest field number");
  return writer.finish();
}

/** What a decode makes of the bytes: its result, or "throws" when it throws an Error (anything else is rethrown). */
export function outcomeOf<T>(decode: (bytes: Uint8Array) => T, bytes: Uint8Array): T | "throws" {
  try {
    return decode(bytes);
  } catch (error) {
    if (!(error instanceof Error)) {
      throw error;
    }
    return "throws";
  }
}

/** Expects a walk to answer as the full decode on every truncation of the bytes (both throw, or both give the same), most of which throw. */
export function expectSameOnTruncations<T>(bytes: Uint8Array, walk: (bytes: Uint8Array) => T, full: (bytes: Uint8Array) => T): void {
  let threw = 0;
  for (let length = 0; length < bytes.length; length++) {
    const cut = bytes.subarray(0, length);
    const walked = outcomeOf(walk, cut);
    threw += walked === "throws" ? 1 : 0;
    expect(walked, `cut at ${length} of ${bytes.length}`).toEqual(outcomeOf(full, cut));
  }
  expect(threw).toBeGreaterThan(bytes.length * 0.9);
}
