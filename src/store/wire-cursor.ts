/**
 * A position in protobuf wire bytes, for the walks that read a few fields of
 * a stored record by tag and length instead of decoding it (record-secret.ts,
 * record-seal.ts). Reads past the end are left for the caller to notice
 * (`pos > end`), except in a varint, which throws.
 */
export class WireCursor {
  pos: number;
  readonly bytes: Uint8Array;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** The varint at the position (up to 2^53 exactly), read past; throws when truncated or longer than 10 bytes. */
  varint(): number {
    // most of a record's varints (tags, short lengths, key ids) are one byte
    const first = this.pos < this.end ? this.bytes[this.pos]! : 0x80;
    if (first < 0x80) {
      this.pos++;
      return first;
    }
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) {
        break;
      }
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) {
        return value;
      }
    }
    throw new RangeError("truncated or overlong varint");
  }

  /** The tag at the position (a uint32: field number << 3 | wire type), read past; throws on an invalid tag (field 0, or past uint32). */
  tag(): number {
    const tag = this.varint();
    if (tag < 8 || tag > 0xffff_ffff) {
      throw new RangeError("invalid tag");
    }
    return tag;
  }

  /**
   * Skips the value of a field of this wire type; false for a group or an
   * invalid wire type (never written by a proto3 writer), which the caller
   * leaves to the full decoder.
   */
  skip(wireType: number): boolean {
    if (wireType === 0) {
      this.varint();
    } else if (wireType === 1 || wireType === 5) {
      this.pos += wireType === 1 ? 8 : 4;
    } else if (wireType === 2) {
      const length = this.varint();
      this.pos += length;
    } else {
      return false;
    }
    return true;
  }
}
