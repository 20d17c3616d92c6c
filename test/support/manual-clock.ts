import type { TokenCacheTimer } from "../../src/oauth/token-cache.ts";

/** A clock that moves only when the test moves it, with the timers set on it: `now` and `timer` for createTokenCache. */
export interface ManualClock {
  readonly now: () => number;
  readonly timer: TokenCacheTimer;
  /** Moves the clock to `ms` after its start, firing each timer due by then at its own time, earliest first. */
  at(ms: number): void;
}

interface PendingTimer {
  readonly dueAt: number;
  readonly callback: () => void;
}

export function createManualClock(start = 1_000_000): ManualClock {
  let clock = start;
  // keyed by the handle set() gives out; insertion order breaks ties
  const timers = new Map<object, PendingTimer>();
  const nextDue = (until: number): [object, PendingTimer] | undefined => {
    let next: [object, PendingTimer] | undefined;
    for (const pair of timers) {
      if (pair[1].dueAt <= until && (next === undefined || pair[1].dueAt < next[1].dueAt)) {
        next = pair;
      }
    }
    return next;
  };
  return {
    now: () => clock,
    timer: {
      set(callback, ms) {
        const handle = {};
        timers.set(handle, { dueAt: clock + Math.max(0, ms), callback });
        return handle;
      },
      clear(handle) {
        timers.delete(handle as object);
      },
    },
    at(ms) {
      const target = start + ms;
      for (let due = nextDue(target); due !== undefined; due = nextDue(target)) {
        timers.delete(due[0]);
        clock = Math.max(clock, due[1].dueAt);
        due[1].callback();
      }
      clock = target;
    },
  };
}
