/** Per-connection limits that both listeners apply. */
export interface ConnectionLimits {
  /** Streams one HTTP/2 connection may have open at once (advertised in SETTINGS). */
  maxConcurrentStreams: number;
  /** A connection with no call in flight for this long is closed. */
  idleTimeoutMs: number;
}

/** Enough for a step runner's burst on one connection, small enough that one client cannot hog the broker. */
export const maxConcurrentStreamsPerConnection = 256;

/** Idle connections are closed after 5 minutes; clients reconnect transparently. */
export const idleConnectionTimeoutMs = 5 * 60_000;

/** The limits a broker runs with. */
export const defaultConnectionLimits: ConnectionLimits = {
  maxConcurrentStreams: maxConcurrentStreamsPerConnection,
  idleTimeoutMs: idleConnectionTimeoutMs,
};
