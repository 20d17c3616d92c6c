import { crc32 } from "node:zlib";
import type { AuditClass } from "../store/secret-store.ts";

/**
 * One record of an audit segment file, little-endian:
 *
 *   u32 length   bytes after the checksum (class + sequence + event)
 *   u32 crc32    of those bytes
 *   u8  class    1 main, 2 refused
 *   u64 sequence the event's sequence (also inside the event)
 *   ...          the AuditEvent's protobuf bytes
 *
 * A length of zero is the end: segments are zero-filled when created. A
 * record whose length runs past the file or whose checksum fails is torn
 * (written in part when the power went) and ends the segment.
 */
export const recordHeaderBytes = 17;

/** A record read back from a segment. */
export interface SegmentRecord {
  readonly sequence: number;
  readonly auditClass: AuditClass;
  /** The AuditEvent's protobuf bytes. */
  readonly bytes: Uint8Array;
}

/** What a segment holds: its whole records, and where the torn rest begins (undefined when it ended cleanly). */
export interface SegmentContents {
  readonly records: SegmentRecord[];
  readonly tornAt: number | undefined;
}

const classCodes: Record<AuditClass, number> = { main: 1, refused: 2 };
const classOfCode: Record<number, AuditClass | undefined> = { 1: "main", 2: "refused" };
const lengthAndChecksumBytes = 8;
const twoTo32 = 2 ** 32;

/** Fills in the header of `record`, whose first recordHeaderBytes were reserved by encodeAuditEvent. */
export function frameRecord(record: Buffer, auditClass: AuditClass, sequence: number): Buffer {
  record.writeUInt32LE(record.length - lengthAndChecksumBytes, 0);
  record[8] = classCodes[auditClass];
  record.writeUInt32LE(sequence % twoTo32, 9);
  record.writeUInt32LE(Math.floor(sequence / twoTo32), 13);
  record.writeUInt32LE(crc32(record.subarray(lengthAndChecksumBytes)), 4);
  return record;
}

/** The records of a segment file's bytes, up to its end or its first torn record. */
export function readRecords(file: Buffer): SegmentContents {
  const records: SegmentRecord[] = [];
  let at = 0;
  while (at + lengthAndChecksumBytes <= file.length) {
    const length = file.readUInt32LE(at);
    if (length === 0) {
      // the zero fill: a clean end, unless a later record made it to the disk and this one did not
      return { records, tornAt: file.subarray(at).some((byte) => byte !== 0) ? at : undefined };
    }
    const start = at + lengthAndChecksumBytes;
    const end = start + length;
    const auditClass = end <= file.length && length >= recordHeaderBytes - lengthAndChecksumBytes ? classOfCode[file[start]!] : undefined;
    if (auditClass === undefined || crc32(file.subarray(start, end)) !== file.readUInt32LE(at + 4)) {
      return { records, tornAt: at };
    }
    const sequence = file.readUInt32LE(start + 1) + file.readUInt32LE(start + 5) * twoTo32;
    records.push({ sequence, auditClass, bytes: file.subarray(start + 9, end) });
    at = end;
  }
  return { records, tornAt: at === file.length ? undefined : at };
}
