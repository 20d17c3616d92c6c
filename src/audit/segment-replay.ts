import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { readRecords, type SegmentRecord } from "./segment-record.ts";
import type { Segment } from "./segment-writer.ts";

/** A segment left by a process that ended before moving all of it, with its records. */
export interface LeftoverSegment {
  readonly segment: Segment;
  readonly records: SegmentRecord[];
}

/**
 * The segments in `directory` whose writer has ended: a process that
 * crashed, or stopped while the store refused its events. A segment of a
 * process that still runs (another broker on this data dir) is its own to
 * move; one named with this process's id is an earlier one's (a container
 * restarts with the same pid), since this one has written none yet. A torn
 * tail, the record a crash or a power loss cut short, is dropped with a
 * warning: it can only be an event whose call got no answer, or one of the
 * last sync interval before a power loss.
 */
export function readLeftoverSegments(directory: string, logger: Logger): LeftoverSegment[] {
  const leftovers: LeftoverSegment[] = [];
  for (const name of readdirSync(directory).sort()) {
    const match = /^(\d+)-\d+-\d+\.log$/.exec(name);
    if (match === null || isRunningElsewhere(Number(match[1]))) {
      continue;
    }
    const path = join(directory, name);
    const { records, tornAt } = readRecords(readFileSync(path));
    if (tornAt !== undefined) {
      logger.warn({ segment: name, records: records.length, tornAt }, "audit segment ends in a torn record; the records before it are kept");
    }
    leftovers.push({ segment: { path, unmoved: records.length, sealed: true }, records });
  }
  return leftovers;
}

function isRunningElsewhere(pid: number): boolean {
  if (pid === process.pid) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user
    return (error as { code?: unknown }).code === "EPERM";
  }
}
