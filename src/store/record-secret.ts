import { fromBinary } from "@bufbuild/protobuf";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { SecretSchema, type Secret } from "../gen/credbroker/v1/secret_pb.ts";

/** SecretRecord's field numbers (record.proto); a listing needs only the first. */
const secretField = 1;
const payloadField = 2;

/**
 * The Secret of an encoded SecretRecord, the same as a full decode's
 * `record.secret`, or undefined when the record lacks its secret or its
 * sealed payload. Listing needs only the metadata, so the record's fields
 * are walked by tag and length and the sealed payload's bytes are skipped,
 * never decoded: no payload objects per listed record. Throws on bytes that
 * are not a SecretRecord.
 */
export function decodeRecordSecret(bytes: Uint8Array): Secret | undefined {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.length) {
        break;
      }
      const byte = bytes[pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        return value;
      }
    }
    throw new RangeError("truncated or overlong varint");
  };
  let secretStart = -1;
  let secretEnd = -1;
  let sealed = false;
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0 || tag > 0xffff_ffff) {
      throw new RangeError("invalid tag");
    }
    if (wireType === 2) {
      const length = varint();
      const start = pos;
      pos += length;
      if (pos > bytes.length) {
        break;
      }
      if (field === secretField) {
        if (secretStart >= 0) {
          // a repeated message field merges: rare enough to leave to the full decoder
          return fullDecode(bytes);
        }
        secretStart = start;
        secretEnd = pos;
      } else if (field === payloadField) {
        sealed = true;
      }
    } else if (field === secretField || field === payloadField) {
      // not length-delimited: whatever the full decoder makes of it, this answers the same
      return fullDecode(bytes);
    } else if (wireType === 0) {
      varint();
    } else if (wireType === 1 || wireType === 5) {
      pos += wireType === 1 ? 8 : 4;
    } else {
      // groups (never written by any proto3 writer) and invalid wire types
      return fullDecode(bytes);
    }
  }
  if (pos > bytes.length) {
    throw new RangeError("premature end of the record");
  }
  return secretStart < 0 || !sealed ? undefined : fromBinary(SecretSchema, bytes.subarray(secretStart, secretEnd));
}

function fullDecode(bytes: Uint8Array): Secret | undefined {
  const record = fromBinary(SecretRecordSchema, bytes);
  return record.payload === undefined ? undefined : record.secret;
}
