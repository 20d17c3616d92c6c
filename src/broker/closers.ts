/** Closes one resource; `graceMs` is what a listener may spend draining calls (0 after a failed start). */
export type Closer = (graceMs: number) => Promise<unknown> | void;

/** What a broker opened, closed in reverse order: the one list for a failed start-up and for shutdown. */
export interface Closers {
  /** Adds what was just opened; it closes before everything added earlier. */
  add(closer: Closer): void;
  /** Closes everything, newest first, each even when an earlier one failed; throws the first failure. */
  close(graceMs: number): Promise<void>;
}

/** An empty list of closers. */
export function createClosers(): Closers {
  const closers: Closer[] = [];
  return {
    add: (closer) => {
      closers.push(closer);
    },
    async close(graceMs) {
      const failures: unknown[] = [];
      for (let closer = closers.pop(); closer !== undefined; closer = closers.pop()) {
        try {
          await closer(graceMs);
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length > 0) {
        throw failures[0];
      }
    },
  };
}
