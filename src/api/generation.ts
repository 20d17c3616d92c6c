import { randomBytes } from "node:crypto";

/**
 * A new record generation, for a name created (again) in a mode. Random,
 * since a deleted record leaves nothing to count on from: a repeat is a
 * 2^-63 chance. Non-zero, 0 being a record stored before generations; 63
 * bits, so that it fits a signed 64-bit column as well.
 */
export function newGeneration(): bigint {
  for (;;) {
    const generation = randomBytes(8).readBigUInt64BE() >> 1n;
    if (generation !== 0n) {
      return generation;
    }
  }
}
