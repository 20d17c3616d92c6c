import { fromBinary } from "@bufbuild/protobuf";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { WireCursor } from "./wire-cursor.ts";

/** SecretRecord.payload's field number, and SealedPayload's format and key_id (record.proto). */
const payloadField = 2;
const formatField = 1;
const keyIdField = 2;

/** What a record's sealed payload says of its envelope: what a rewrap decides by. */
export interface SealKey {
  /** The envelope format (SealedPayload.format). */
  readonly format: number;
  /** The id of the keyring key that wraps the data key. */
  readonly keyId: number;
}

/**
 * The envelope format and key id of an encoded SecretRecord's payload, the
 * same as a full decode's `record.payload.format` and `.keyId`, or
 * undefined when the record holds no payload. Only tags and lengths are
 * walked: the metadata, the wrapped key and the ciphertext are skipped, so
 * a walk over every record (the rewrap at start-up) builds no record.
 * Throws on bytes that are not a SecretRecord.
 */
export function decodeSealKey(bytes: Uint8Array): SealKey | undefined {
  const cursor = new WireCursor(bytes);
  let format: number | undefined;
  let keyId: number | undefined;
  while (cursor.pos < bytes.length) {
    const tag = cursor.tag();
    const wireType = tag % 8;
    if (tag >>> 3 !== payloadField) {
      if (!cursor.skip(wireType)) {
        return fullDecode(bytes);
      }
      continue;
    }
    if (wireType !== 2) {
      return fullDecode(bytes);
    }
    const length = cursor.varint();
    const payload = new WireCursor(bytes, cursor.pos, Math.min(cursor.pos + length, bytes.length));
    cursor.pos += length;
    // a repeated message field merges: a later occurrence's fields win, the others stay
    format ??= 0;
    keyId ??= 0;
    while (payload.pos < payload.end) {
      const innerTag = payload.tag();
      const inner = innerTag >>> 3;
      const innerType = innerTag % 8;
      if (inner !== formatField && inner !== keyIdField) {
        if (!payload.skip(innerType)) {
          return fullDecode(bytes);
        }
        continue;
      }
      const value = innerType === 0 ? payload.varint() : -1;
      if (value < 0 || value > 0xffff_ffff) {
        // another wire type, or a value past uint32: whatever the full decoder makes of it
        return fullDecode(bytes);
      }
      if (inner === formatField) {
        format = value;
      } else {
        keyId = value;
      }
    }
    if (payload.pos > payload.end || cursor.pos > bytes.length) {
      throw new RangeError("premature end of the payload");
    }
  }
  if (cursor.pos > bytes.length) {
    throw new RangeError("premature end of the record");
  }
  return format === undefined || keyId === undefined ? undefined : { format, keyId };
}

function fullDecode(bytes: Uint8Array): SealKey | undefined {
  const { payload } = fromBinary(SecretRecordSchema, bytes);
  return payload === undefined ? undefined : { format: payload.format, keyId: payload.keyId };
}
