import { readFileSync } from "node:fs";

/** Per-connection limits that both listeners apply. */
export interface ConnectionLimits {
  /** Streams one HTTP/2 connection may have open at once (advertised in SETTINGS). */
  maxConcurrentStreams: number;
  /** A connection with no call in flight for this long is closed. */
  idleTimeoutMs: number;
  /** Connections one listener keeps open at once; undefined: defaultMaxConnections(). */
  maxConnections?: number | undefined;
  /** A connection that has started no call by then is closed; undefined: firstCallTimeoutMs. */
  firstCallTimeoutMs?: number | undefined;
}

/** Enough for a step runner's burst on one connection, small enough that one client cannot hog the broker. */
export const maxConcurrentStreamsPerConnection = 256;

/** Idle connections are closed after 5 minutes; clients reconnect transparently. */
export const idleConnectionTimeoutMs = 5 * 60_000;

/** A client sends its request (or HTTP/2 preface and first stream) at once; one that has sent none in 10 s is not a caller. */
export const firstCallTimeoutMs = 10_000;

/** The limits a broker runs with. */
export const defaultConnectionLimits: ConnectionLimits = {
  maxConcurrentStreams: maxConcurrentStreamsPerConnection,
  idleTimeoutMs: idleConnectionTimeoutMs,
};

/** File descriptors kept for all but the API listeners' connections: the store, the log, the metrics listener, token endpoints, PostgreSQL. */
const reservedDescriptors = 128;

/** Far more than a sidecar's step runners open, and small enough that idle sessions cannot eat the memory. */
const mostConnections = 4096;

/**
 * The cap on each API listener's connections: half of the file descriptors
 * the process may open, less a reserve (two listeners share them), at most
 * 4096 and at least 16. Past its descriptor limit a process cannot accept a
 * caller, open the store or reach a token endpoint, and no listener could
 * shed an idle connection in time; under the cap it always can. The limit
 * is the soft NOFILE limit of /proc/self/limits (Node raises it to the hard
 * one at start), 1024 where there is no such file.
 */
export function defaultMaxConnections(limits: () => string = () => readFileSync("/proc/self/limits", "utf8")): number {
  let descriptors = 1024;
  try {
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits())?.[1];
    if (soft !== undefined) {
      descriptors = soft === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(soft);
    }
  } catch {
    // not Linux: the common default
  }
  return Math.max(16, Math.min(mostConnections, Math.floor((descriptors - reservedDescriptors) / 2)));
}
