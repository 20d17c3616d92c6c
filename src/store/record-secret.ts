import { fromBinary } from "@bufbuild/protobuf";
import { DeployOriginSchema, SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { SecretSchema } from "../gen/credbroker/v1/secret_pb.ts";
import type { RecordMetadata } from "./secret-store.ts";
import { WireCursor } from "./wire-cursor.ts";

/** SecretRecord's field numbers (record.proto): the walk decodes the first and the third. */
const secretField = 1;
const payloadField = 2;
const deployedFromField = 3;

/** An encoded SecretRecord's metadata, and whether it holds a sealed payload. */
export interface WalkedRecord extends RecordMetadata {
  /** Whether the record holds its sealed payload (skipped, never decoded). */
  readonly sealed: boolean;
}

/**
 * The metadata of an encoded SecretRecord, the same as a full decode's
 * `record.secret` and `record.deployedFrom`. Listings and deploy states
 * need only the metadata, so the record's fields are walked by tag and
 * length and the sealed payload's bytes are skipped, never decoded: no
 * payload objects per record read. Throws on bytes that are not a
 * SecretRecord.
 */
export function decodeRecordMetadata(bytes: Uint8Array): WalkedRecord {
  const cursor = new WireCursor(bytes);
  let secretStart = -1;
  let secretEnd = -1;
  let originStart = -1;
  let originEnd = -1;
  let sealed = false;
  while (cursor.pos < bytes.length) {
    const tag = cursor.tag();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (wireType === 2) {
      const length = cursor.varint();
      const start = cursor.pos;
      cursor.pos += length;
      if (cursor.pos > bytes.length) {
        break;
      }
      if (field === secretField || field === deployedFromField) {
        if ((field === secretField ? secretStart : originStart) >= 0) {
          // a repeated message field merges: rare enough to leave to the full decoder
          return fullDecode(bytes);
        }
        if (field === secretField) {
          secretStart = start;
          secretEnd = cursor.pos;
        } else {
          originStart = start;
          originEnd = cursor.pos;
        }
      } else if (field === payloadField) {
        sealed = true;
      }
    } else if (field === secretField || field === payloadField || field === deployedFromField) {
      // not length-delimited: whatever the full decoder makes of it, this answers the same
      return fullDecode(bytes);
    } else if (!cursor.skip(wireType)) {
      return fullDecode(bytes);
    }
  }
  if (cursor.pos > bytes.length) {
    throw new RangeError("premature end of the record");
  }
  return {
    secret: secretStart < 0 ? undefined : fromBinary(SecretSchema, bytes.subarray(secretStart, secretEnd)),
    deployedFrom: originStart < 0 ? undefined : fromBinary(DeployOriginSchema, bytes.subarray(originStart, originEnd)),
    sealed,
  };
}

function fullDecode(bytes: Uint8Array): WalkedRecord {
  const record = fromBinary(SecretRecordSchema, bytes);
  return { secret: record.secret, deployedFrom: record.deployedFrom, sealed: record.payload !== undefined };
}
