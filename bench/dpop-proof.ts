import { dpopKey, generateDpopKey } from "../src/oauth/dpop-key.ts";
import { dpopProver } from "../src/oauth/dpop-proof.ts";

/** The median microseconds one DPoP proof takes to sign (ES256, the broker's generated key), in this process. */
export function dpopProofMicros(proofs = 20_000, rounds = 5): number {
  const prover = dpopProver(dpopKey(generateDpopKey()), "bench-access-token");
  const perProof: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < proofs; i++) {
      prover.proof("GET", "https://api.example/v1/orders");
    }
    perProof.push(Number(process.hrtime.bigint() - start) / 1000 / proofs);
  }
  return perProof.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}
