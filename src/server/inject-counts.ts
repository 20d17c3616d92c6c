import { ModeSchema, SecretTypeSchema, type Mode, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";

/** Successful Injects by secret type and mode (never by name), read when metrics are scraped. */
export interface InjectCounts {
  /** Counts one Inject; the inject service's `onInject` hook. */
  count(type: SecretType, mode: Mode): void;
  /** How many Injects of a type and mode were counted. */
  get(type: SecretType, mode: Mode): number;
}

/** Counts in a flat array indexed by type and mode: an increment per Inject, nothing allocated. */
export function createInjectCounts(): InjectCounts {
  // the enums number their values 0..n-1
  const modes = ModeSchema.values.length;
  const counts = new Float64Array(SecretTypeSchema.values.length * modes);
  return {
    count(type, mode) {
      const slot = type * modes + mode;
      if (slot < counts.length) {
        counts[slot]! += 1;
      }
    },
    get(type, mode) {
      return counts[type * modes + mode] ?? 0;
    },
  };
}
