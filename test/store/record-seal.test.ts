import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { SealedPayloadSchema, SecretRecordSchema } from "../../src/gen/credbroker/storage/v1/record_pb.ts";
import { decodeSealKey } from "../../src/store/record-seal.ts";
import { everyType, expectSameOnTruncations, outcomeOf, sealedRecord, withUnknownFields } from "../support/encoded-records.ts";

/** What a full decode makes of the bytes: the payload's format and key id. */
function fullSeal(bytes: Uint8Array) {
  const { payload } = fromBinary(SecretRecordSchema, bytes);
  return payload === undefined ? undefined : { format: payload.format, keyId: payload.keyId };
}

/** A record of the API's making with its payload's format and key id set. */
function recordUnder(format: number, keyId: number): Uint8Array {
  const record = sealedRecord("sealed", ...everyType.bearerToken);
  record.payload = create(SealedPayloadSchema, { ...record.payload!, format, keyId });
  return toBinary(SecretRecordSchema, record);
}

describe("decodeSealKey", () => {
  it.each(Object.entries(everyType))("gives the full decode's format and key id for a record of %s, with and without unknown fields", (name, [type, kind]) => {
    const bytes = toBinary(SecretRecordSchema, sealedRecord(name.toLowerCase(), type, kind));
    expect(decodeSealKey(bytes)).toEqual({ format: 3, keyId: 1 });
    expect(decodeSealKey(withUnknownFields(bytes))).toEqual(fullSeal(withUnknownFields(bytes)));
  });

  it("reads any format and key id, and a record without a payload has none", () => {
    expect(decodeSealKey(recordUnder(1, 7))).toEqual({ format: 1, keyId: 7 });
    expect(decodeSealKey(recordUnder(2, 4_000_000_000))).toEqual({ format: 2, keyId: 4_000_000_000 });
    expect(decodeSealKey(recordUnder(0, 0))).toEqual({ format: 0, keyId: 0 });
    const secretOnly = create(SecretRecordSchema, { secret: sealedRecord("half", ...everyType.apiKey).secret! });
    expect(decodeSealKey(toBinary(SecretRecordSchema, secretOnly))).toBeUndefined();
    expect(decodeSealKey(new Uint8Array(0))).toBeUndefined();
  });

  it("merges a payload written twice, as the full decode does: the later key id wins, the earlier format stays", () => {
    const twice = new BinaryWriter()
      .raw(recordUnder(2, 1))
      .tag(2, WireType.LengthDelimited)
      .bytes(new BinaryWriter().tag(2, WireType.Varint).uint32(5).finish())
      .finish();
    expect(decodeSealKey(twice)).toEqual({ format: 2, keyId: 5 });
    expect(decodeSealKey(twice)).toEqual(fullSeal(twice));
  });

  it("answers as the full decode does when a seal field has another wire type", () => {
    const oddPayload = new BinaryWriter().raw(recordUnder(2, 1)).tag(2, WireType.Varint).uint32(3).finish();
    expect(outcomeOf(decodeSealKey, oddPayload)).toEqual(outcomeOf(fullSeal, oddPayload));
    const oddKeyId = new BinaryWriter()
      .tag(2, WireType.LengthDelimited)
      .bytes(new BinaryWriter().tag(1, WireType.Varint).uint32(2).tag(2, WireType.Bit32).fixed32(9).finish())
      .finish();
    expect(outcomeOf(decodeSealKey, oddKeyId)).toEqual(outcomeOf(fullSeal, oddKeyId));
  });

  it("agrees with the full decode on every truncation of a record: both throw or both give the same", () => {
    expectSameOnTruncations(withUnknownFields(recordUnder(2, 3)), decodeSealKey, fullSeal);
  });
});
