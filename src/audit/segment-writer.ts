import { closeSync, fdatasync, fsync, openSync, unlinkSync, writeSync, writevSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import type { Logger } from "pino";

/** A segment file of the audit log. */
export interface Segment {
  readonly path: string;
  /** How many of its records are not yet moved into the store. */
  unmoved: number;
  /** No more records will be written to it (rotated out, closed, or left by an earlier process). */
  sealed: boolean;
}

/** Options of the segment writer. */
export interface SegmentWriterOptions {
  /** The directory of the segment files (exists, 0700). */
  directory: string;
  /** The size a segment is created with (zero-filled, so that its records need no new disk space). */
  segmentBytes: number;
  /** How often written records are synced to the disk, in milliseconds. */
  syncIntervalMs: number;
  /** Told when a segment is sealed: once its records are moved, it can go. */
  onSeal(segment: Segment): void;
  /** Told of a failed sync. */
  logger: Logger;
}

/** Appends records to this process's segment files. */
export interface SegmentWriter {
  /**
   * Writes a group of records into one segment with one write(2) (handed to
   * the OS, not yet synced) and returns that segment; a group that does not
   * fit in the current one goes whole into a new one. Throws when it cannot;
   * the next group then overwrites whatever part was written (read back only
   * if the process dies first: events of refused calls, never lost ones).
   */
  write(records: readonly Buffer[], bytes: number): Segment;
  /** The bytes a group can have and still go into the current segment (a new segment's size when there is none). */
  room(): number;
  /** Syncs what was written, closes the files and seals the current segment. */
  close(): Promise<void>;
}

interface OpenSegment {
  readonly segment: Segment;
  readonly fd: number;
  readonly size: number;
  position: number;
  /** Written since its last sync. */
  dirty: boolean;
}

const syncData = promisify(fdatasync);
const syncAll = promisify(fsync);

/**
 * Writes groups of records with one write(2) each on the calling thread, so
 * a record is the OS's before write() returns (a crash of the process loses
 * none), and
 * fdatasyncs on libuv's pool every syncIntervalMs, so records reach the
 * disk in groups at most that far apart. A new segment's directory entry is
 * synced with its first group: without it, a power loss could lose the file.
 */
export function startSegmentWriter(options: SegmentWriterOptions): SegmentWriter {
  const directoryFd = openSync(options.directory, "r");
  const zeros = Buffer.alloc(options.segmentBytes);
  let current: OpenSegment | undefined;
  let retiring: OpenSegment[] = [];
  let created = 0;
  let newEntries = false;
  let syncFailure: unknown;
  let syncing: Promise<void> | undefined;
  let closed = false;

  function writeAll(fd: number, bytes: Buffer, position: number): void {
    for (let done = 0; done < bytes.length; ) {
      done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    }
  }

  /** One pwritev(2) for the whole group; a short write (rare: a signal, a full disk) finishes record by record. */
  function writeGroup(fd: number, records: readonly Buffer[], bytes: number, position: number): void {
    let done = records.length === 1 ? writeSync(fd, records[0]!, 0, bytes, position) : writevSync(fd, records as Buffer[], position);
    for (let i = 0, start = 0; done < bytes; start += records[i]!.length, i++) {
      const record = records[i]!;
      if (done < start + record.length) {
        writeAll(fd, record.subarray(done - start), position + done);
        done = start + record.length;
      }
    }
  }

  function rotate(minBytes: number): OpenSegment {
    const size = Math.max(options.segmentBytes, minBytes);
    const path = join(options.directory, `${process.pid}-${Date.now()}-${++created}.log`);
    const fd = openSync(path, "wx", 0o600);
    try {
      writeAll(fd, size === zeros.length ? zeros : Buffer.alloc(size), 0);
    } catch (cause) {
      // a disk too full for a whole segment: take back what was allocated
      closeSync(fd);
      unlinkSync(path);
      throw cause;
    }
    newEntries = true;
    if (current !== undefined) {
      retiring.push(current);
      seal(current.segment);
    }
    current = { segment: { path, unmoved: 0, sealed: false }, fd, size, position: 0, dirty: true };
    return current;
  }

  function seal(segment: Segment): void {
    segment.sealed = true;
    options.onSeal(segment);
  }

  async function syncPass(): Promise<void> {
    const done = retiring;
    retiring = [];
    try {
      for (const open of [...done, ...(current?.dirty === true ? [current] : [])]) {
        open.dirty = false;
        await syncData(open.fd);
      }
      if (newEntries) {
        newEntries = false;
        await syncAll(directoryFd);
      }
      syncFailure = undefined;
    } catch (cause) {
      // refuse new events until a sync succeeds: their group could not be promised to the disk
      syncFailure = cause;
      newEntries = true;
      if (current !== undefined) {
        current.dirty = true;
      }
      options.logger.error({ err: cause }, "audit segment sync failed; events are refused until a sync succeeds");
    } finally {
      for (const open of done) {
        closeSync(open.fd);
      }
    }
  }

  function runSync(): Promise<void> {
    syncing ??= syncPass().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  try {
    // the space of the first segment is taken now, so Injects keep being audited on a disk that fills up later
    rotate(0);
  } catch (err) {
    options.logger.warn({ err }, "no audit segment could be created yet; the first event tries again");
  }
  const timer = setInterval(() => void runSync(), options.syncIntervalMs);
  timer.unref();

  return {
    write(records, bytes) {
      if (closed) {
        // a straggler after close would start a segment that nobody syncs or moves
        throw new Error("the audit log is closed");
      }
      if (syncFailure !== undefined) {
        throw new Error("the audit segment could not be synced", { cause: syncFailure });
      }
      const open = current !== undefined && current.position + bytes <= current.size ? current : rotate(bytes);
      // a failed write leaves the position where it was: the next group overwrites the partial one
      writeGroup(open.fd, records, bytes, open.position);
      open.position += bytes;
      open.dirty = true;
      return open.segment;
    },

    room() {
      return current === undefined ? options.segmentBytes : current.size - current.position;
    },

    async close() {
      closed = true;
      clearInterval(timer);
      await syncing;
      if (current !== undefined) {
        retiring.push(current);
        seal(current.segment);
        current = undefined;
      }
      await runSync();
      closeSync(directoryFd);
    },
  };
}
