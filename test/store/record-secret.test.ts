import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DeployOriginSchema, SealedPayloadSchema, SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, SecretSchema, SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { decodeRecordMetadata } from "../../src/store/record-secret.ts";
import { everyType, expectSameOnTruncations, outcomeOf, sealedRecord, withUnknownFields } from "../support/encoded-records.ts";

function fullOf(bytes: Uint8Array) {
  const record = fromBinary(SecretRecordSchema, bytes);
  return { secret: record.secret, deployedFrom: record.deployedFrom, sealed: record.payload !== undefined };
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
    expectSameOnTruncations(bytes, decodeRecordMetadata, fullOf);
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
      const walked = outcomeOf(decodeRecordMetadata, garbage);
      if (walked !== "throws") {
        // whatever the walk accepts, the full decode accepts with the same metadata
        expect(walked).toEqual(outcomeOf(fullOf, garbage));
      }
    }
  });
});
