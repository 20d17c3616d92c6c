import type { Socket } from "node:net";

/** Options of createConnectionGate. */
export interface ConnectionGateOptions {
  /** Connections the listener keeps open at once. */
  maxConnections: number;
  /** A connection that has started no call by then is closed. */
  firstCallTimeoutMs: number;
  /** Told, at most once a minute, that the cap closed or refused connections. */
  onShed?: ((shed: { closedSilent: number; closedIdle: number; refused: number }) => void) | undefined;
}

/** Counts a listener's connections and keeps them under the cap. */
export interface ConnectionGate {
  /** Takes a new connection in; false when it was refused (and destroyed) because every open one has a call in flight. */
  admit(socket: Socket): boolean;
  /** A call began on the connection of this key (see connectionKey). */
  callStarted(key: string | undefined): void;
  /** A call that began on the connection of this key ended. */
  callEnded(key: string | undefined): void;
  /** Connections open now. */
  readonly size: number;
}

interface Entry {
  socket: Socket;
  key: string | undefined;
  calls: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * What names a connection in calls: its peer's `address:port`, the form
 * grpc-js's `getPeer()` has; undefined on a unix socket, whose peers have no
 * address to tell them apart.
 */
export function connectionKey(socket: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined }): string | undefined {
  return socket.remoteAddress === undefined || socket.remotePort === undefined ? undefined : `${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * Keeps a listener's connections at or under `maxConnections`, so that a
 * flood of connections cannot take the file descriptors that real callers
 * and the store need. At the cap a new connection is let in by closing one
 * that is doing nothing: the oldest that has never started a call (a silent
 * socket, half a preface, a bare TLS handshake), else the one idle for the
 * longest; a connection with a call in flight is never closed, and only when
 * every one has a call in flight is the newcomer refused. So an idle flood
 * churns through its own connections while callers get in. A connection
 * that starts no call within `firstCallTimeoutMs` is closed. Connections of
 * a unix socket count towards the cap but are never closed by it: calls
 * cannot be told apart by connection there, and only the broker's user or
 * group can open them.
 */
export function createConnectionGate(options: ConnectionGateOptions): ConnectionGate {
  const open = new Set<Entry>();
  // Sets iterate in insertion order: the first entry is the one to close first
  const silent = new Set<Entry>();
  const idle = new Set<Entry>();
  const byKey = new Map<string, Entry>();
  const shed = { closedSilent: 0, closedIdle: 0, refused: 0 };
  let lastReport = 0;
  const report = () => {
    const now = Date.now();
    if (options.onShed !== undefined && now - lastReport >= 60_000) {
      lastReport = now;
      options.onShed({ ...shed });
      shed.closedSilent = shed.closedIdle = shed.refused = 0;
    }
  };
  const forget = (entry: Entry) => {
    open.delete(entry);
    silent.delete(entry);
    idle.delete(entry);
    clearTimeout(entry.timer);
    if (entry.key !== undefined && byKey.get(entry.key) === entry) {
      byKey.delete(entry.key);
    }
  };
  const first = (set: Set<Entry>): Entry | undefined => set.values().next().value;
  return {
    admit(socket) {
      if (open.size >= options.maxConnections) {
        const victim = first(silent) ?? first(idle);
        if (victim === undefined) {
          shed.refused++;
          report();
          socket.destroy();
          return false;
        }
        if (silent.has(victim)) {
          shed.closedSilent++;
        } else {
          shed.closedIdle++;
        }
        report();
        forget(victim);
        victim.socket.destroy();
      }
      const entry: Entry = { socket, key: connectionKey(socket), calls: 0, timer: undefined };
      open.add(entry);
      if (entry.key !== undefined) {
        byKey.set(entry.key, entry);
        silent.add(entry);
        entry.timer = setTimeout(() => socket.destroy(), options.firstCallTimeoutMs).unref();
      }
      socket.once("close", () => forget(entry));
      return true;
    },
    callStarted(key) {
      const entry = key === undefined ? undefined : byKey.get(key);
      if (entry === undefined) {
        return;
      }
      clearTimeout(entry.timer);
      silent.delete(entry);
      idle.delete(entry);
      entry.calls++;
    },
    callEnded(key) {
      const entry = key === undefined ? undefined : byKey.get(key);
      if (entry === undefined || entry.calls === 0) {
        return;
      }
      entry.calls--;
      if (entry.calls === 0) {
        // to the end: the longest idle stays first
        idle.add(entry);
      }
    },
    get size() {
      return open.size;
    },
  };
}
