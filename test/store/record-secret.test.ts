import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DeployOriginSchema, SealedPayloadSchema, SecretRecordSchema, type SecretRecord } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, Mode, SecretSchema, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { createKeyring } from "../../src/keys/keyring.ts";
import { bindingOf } from "../../src/seal/record-binding.ts";
import { createSealer } from "../../src/seal/sealer.ts";
import { decodeRecordMetadata } from "../../src/store/record-secret.ts";

type Kind = NonNullable<MessageInitShape<typeof CredentialsSchema>["kind"]>;

/** One credential of every Credentials case, with the type a secret holding it has. */
const everyType: Record<NonNullable<Kind["case"]>, [SecretType, Kind]> = {
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
function sealedRecord(name: string, type: SecretType, kind: Kind): SecretRecord {
  const now = timestampFromDate(new Date("2024-05-06T07:08:09.123Z"));
  const secret = create(SecretSchema, { name, mode: Mode.TEST, type, description: `about ${name}`, version: 7n, createTime: now, updateTime: now, generation: 5n });
  const payload = sealer.seal(bindingOf(secret), toBinary(CredentialsSchema, create(CredentialsSchema, { kind })));
  return create(SecretRecordSchema, { secret, payload });
}

/** What a full decode makes of the bytes: the metadata and whether a payload is there, or the error. */
function fullMetadata(bytes: Uint8Array) {
  try {
    return fullOf(bytes);
  } catch {
    return "throws";
  }
}

function fullOf(bytes: Uint8Array) {
  const record = fromBinary(SecretRecordSchema, bytes);
  return { secret: record.secret, deployedFrom: record.deployedFrom, sealed: record.payload !== undefined };
}

function walkedMetadata(bytes: Uint8Array) {
  try {
    return decodeRecordMetadata(bytes);
  } catch (error) {
    if (!(error instanceof Error)) {
      throw error;
    }
    return "throws";
  }
}

/** The record's bytes with extra fields written in front and behind (unknown to this build). */
function withUnknownFields(bytes: Uint8Array): Uint8Array {
  const writer = new BinaryWriter();
  writer.tag(9, WireType.Varint).uint64(2n ** 63n);
  writer.tag(10, WireType.Bit64).fixed64(5n);
  writer.tag(11, WireType.LengthDelimited).bytes(new Uint8Array(300).fill(7));
  writer.raw(bytes);
  writer.tag(12, WireType.Bit32).fixed32(9);
  writer.tag(536_870_911, WireType.LengthDelimited).string("the largest field number");
  return writer.finish();
}

describe("decodeRecordMetadata", () => {
  it("covers every Credentials case", () => {
    expect(Object.keys(everyType).sort()).toEqual(CredentialsSchema.oneofs[0]!.fields.map((f) => f.localName).sort());
  });

  it.each(Object.entries(everyType))("gives the full decode's secret for a record of %s, with and without unknown fields", (name, [type, kind]) => {
    const bytes = toBinary(SecretRecordSchema, sealedRecord(name.toLowerCase(), type, kind));
    const { secret } = decodeRecordMetadata(bytes);
    expect(secret?.name).toBe(name.toLowerCase());
    expect(secret?.type).toBe(type);
    expect(decodeRecordMetadata(bytes)).toEqual(fullOf(bytes));
    const extended = withUnknownFields(bytes);
    expect(decodeRecordMetadata(extended)).toEqual(fullOf(extended));
  });

  it("keeps the unknown fields inside the secret, as the full decode does", () => {
    const record = sealedRecord("newer", SecretType.API_KEY, everyType.apiKey[1]);
    const secretBytes = new BinaryWriter().raw(toBinary(SecretSchema, record.secret!)).tag(40, WireType.LengthDelimited).string("a newer field").finish();
    const bytes = new BinaryWriter()
      .tag(2, WireType.LengthDelimited)
      .bytes(toBinary(SealedPayloadSchema, record.payload!))
      .tag(1, WireType.LengthDelimited)
      .bytes(secretBytes)
      .finish();
    const walked = decodeRecordMetadata(bytes);
    expect(walked.secret?.$unknown?.map((u) => u.no)).toEqual([40]);
    expect(walked).toEqual(fullOf(bytes));
  });

  it("merges a secret written twice, as the full decode does", () => {
    const record = sealedRecord("twice", SecretType.BEARER_TOKEN, everyType.bearerToken[1]);
    const bytes = new BinaryWriter()
      .raw(toBinary(SecretRecordSchema, record))
      .tag(1, WireType.LengthDelimited)
      .bytes(toBinary(SecretSchema, create(SecretSchema, { description: "second" })))
      .finish();
    expect(decodeRecordMetadata(bytes).secret?.description).toBe("second");
    expect(decodeRecordMetadata(bytes)).toEqual(fullOf(bytes));
  });

  it("gives a live record's deploy origin, merged when written twice, as the full decode does", () => {
    const record = sealedRecord("deployed", SecretType.BEARER_TOKEN, everyType.bearerToken[1]);
    record.deployedFrom = create(DeployOriginSchema, { testVersion: 4n, testCreateTime: record.secret!.createTime!, liveVersion: 7n });
    const bytes = toBinary(SecretRecordSchema, record);
    expect(decodeRecordMetadata(bytes).deployedFrom).toEqual(record.deployedFrom);
    expect(decodeRecordMetadata(withUnknownFields(bytes))).toEqual(fullOf(withUnknownFields(bytes)));
    const twice = new BinaryWriter()
      .raw(bytes)
      .tag(3, WireType.LengthDelimited)
      .bytes(toBinary(DeployOriginSchema, create(DeployOriginSchema, { liveVersion: 8n })))
      .finish();
    expect(decodeRecordMetadata(twice).deployedFrom).toMatchObject({ testVersion: 4n, liveVersion: 8n });
    expect(decodeRecordMetadata(twice)).toEqual(fullOf(twice));
  });

  it("tells a record without its secret or without its payload", () => {
    const record = sealedRecord("half", SecretType.BEARER_TOKEN, everyType.bearerToken[1]);
    expect(decodeRecordMetadata(toBinary(SecretRecordSchema, create(SecretRecordSchema, { payload: record.payload! })))).toEqual({
      secret: undefined,
      deployedFrom: undefined,
      sealed: true,
    });
    expect(decodeRecordMetadata(toBinary(SecretRecordSchema, create(SecretRecordSchema, { secret: record.secret! })))).toEqual({
      secret: record.secret,
      deployedFrom: undefined,
      sealed: false,
    });
    expect(decodeRecordMetadata(new Uint8Array(0))).toEqual({ secret: undefined, deployedFrom: undefined, sealed: false });
  });

  it("agrees with the full decode on every truncation of a record: both throw or both give the same", () => {
    const bytes = withUnknownFields(toBinary(SecretRecordSchema, sealedRecord("cut", SecretType.SFTP_PRIVATE_KEY, everyType.sftpPrivateKey[1])));
    let threw = 0;
    for (let length = 0; length < bytes.length; length++) {
      const cut = bytes.subarray(0, length);
      const walked = walkedMetadata(cut);
      threw += walked === "throws" ? 1 : 0;
      expect(walked, `cut at ${length} of ${bytes.length}`).toEqual(fullMetadata(cut));
    }
    expect(threw).toBeGreaterThan(bytes.length * 0.9);
  });

  it("throws an Error, never crashes or loops, on random bytes", () => {
    // a seeded generator (xorshift32), so a failure reproduces
    let state = 0x2545f491;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    for (let i = 0; i < 2000; i++) {
      const garbage = Uint8Array.from({ length: 1 + (next() % 200) }, () => next() & 0xff);
      const walked = walkedMetadata(garbage);
      if (walked !== "throws") {
        // whatever the walk accepts, the full decode accepts with the same metadata
        expect(walked).toEqual(fullMetadata(garbage));
      }
    }
  });
});
