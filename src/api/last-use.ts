import type { Logger } from "pino";
import type { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { LastUse, SecretStore } from "../store/secret-store.ts";

/** When secrets last served an Inject: noted in memory per Inject, written to the store in batches. */
export interface LastUseTracker {
  /** Notes an Inject of the secret now; a map write, nothing more (the hot path calls it). */
  record(mode: Mode, name: string): void;
  /** When each of these secrets last served an Inject (ms since the epoch): noted or stored; undefined where never. A page's are read at once. */
  lastUses(mode: Mode, names: readonly string[]): (number | undefined)[];
  /** Writes what was noted since the last flush, in one transaction. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left (at shutdown, after the listeners stopped). */
  close(): Promise<void>;
}

/** Options of the tracker. */
export interface LastUseTrackerOptions {
  /** Where times are kept across restarts. */
  store: SecretStore;
  /** How often noted times are written, in ms: the accuracy a restart can lose (default one minute). */
  flushIntervalMs?: number | undefined;
  /** Where a failed flush is reported; its times are kept for the next one. */
  logger: Logger;
}

/**
 * A last-use tracker. An Inject must not cost a store write, so times are
 * kept in a map (one entry per secret used, not per Inject) and written
 * once a minute and at shutdown: a crash loses at most a minute of them,
 * which is the accuracy "last used" promises.
 */
export function createLastUseTracker({ store, flushIntervalMs = 60_000, logger }: LastUseTrackerOptions): LastUseTracker {
  // keyed `<mode>/<name>`: the Inject path pays one map write and no allocation but the key
  let noted = new Map<string, number>();
  // what the flush under way writes, still to be read until it is stored
  let writing = new Map<string, number>();
  let flushing: Promise<void> = Promise.resolve();
  const keyOf = (mode: Mode, name: string) => `${mode}/${name}`;
  // a deleted secret's noted time must not outlive it (the store drops its stored one)
  const unsubscribe = store.onChange((change) => {
    if (change.version === 0n) {
      noted.delete(keyOf(change.mode, change.name));
      writing.delete(keyOf(change.mode, change.name));
    }
  });

  async function writeNoted(): Promise<void> {
    if (noted.size === 0) {
      return;
    }
    writing = noted;
    noted = new Map();
    try {
      await store.putLastUses([...writing].map(([key, time]) => lastUseOf(key, time)));
    } catch (err) {
      // kept for the next flush, unless an Inject since noted a later time
      for (const [key, time] of writing) {
        if (!noted.has(key)) {
          noted.set(key, time);
        }
      }
      logger.warn({ err, secrets: writing.size }, "last-use times not written; kept for the next flush");
    } finally {
      writing = new Map();
    }
  }

  function flush(): Promise<void> {
    // one flush at a time, in order
    flushing = flushing.then(writeNoted);
    return flushing;
  }

  const timer = setInterval(() => void flush(), flushIntervalMs);
  timer.unref();

  return {
    record(mode, name) {
      noted.set(keyOf(mode, name), Date.now());
    },
    lastUses(mode, names) {
      const stored = store.getLastUses(mode, names);
      return names.map((name, i) => {
        const key = keyOf(mode, name);
        return noted.get(key) ?? writing.get(key) ?? stored[i];
      });
    },
    flush,
    async close() {
      clearInterval(timer);
      unsubscribe();
      await flush();
    },
  };
}

/** The last use a map key (`<mode>/<name>`) and time stand for. */
function lastUseOf(key: string, time: number): LastUse {
  const slash = key.indexOf("/");
  return { mode: Number(key.slice(0, slash)) as Mode, name: key.slice(slash + 1), time };
}
