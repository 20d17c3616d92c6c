import { createHash, randomUUID, sign } from "node:crypto";
import type { DpopKey } from "./dpop-key.ts";

/** Signs the DPoP proofs (RFC 9449 §4) of one access token's requests. */
export interface DpopProver {
  /** The thumbprint of the key the token is bound to (`cnf.jkt`). */
  readonly thumbprint: string;
  /**
   * A fresh proof for one request: a new `jti` and the current `iat`, the
   * method, the URL without query or fragment (`htu`) and the token's hash
   * (`ath`). Never log it: with the token, it is a usable request.
   */
  proof(method: string, htu: string): string;
}

const b64u = (text: string) => Buffer.from(text, "utf8").toString("base64url");

/**
 * A prover for one token: the header (with the public key) and `ath` are
 * computed once; each proof costs one JSON encoding and one synchronous
 * signature with the pre-imported key, on the Inject hot path.
 */
export function dpopProver(key: DpopKey, accessToken: string): DpopProver {
  const header = b64u(JSON.stringify({ typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk }));
  const ath = createHash("sha256").update(accessToken, "utf8").digest("base64url");
  // ES256 signatures are r||s (RFC 7518 §3.4), not DER; Ed25519 hashes by itself
  const signer = key.alg === "ES256" ? { key: key.privateKey, dsaEncoding: "ieee-p1363" as const } : key.privateKey;
  const digest = key.alg === "ES256" ? "sha256" : null;
  return {
    thumbprint: key.thumbprint,
    proof(method, htu) {
      const payload = b64u(JSON.stringify({ jti: randomUUID(), htm: method, htu, iat: Math.floor(Date.now() / 1000), ath }));
      const input = `${header}.${payload}`;
      return `${input}.${sign(digest, Buffer.from(input, "utf8"), signer).toString("base64url")}`;
    },
  };
}
