import { createPublicKey } from "node:crypto";
import type { webcrypto } from "node:crypto";
import { getDPoPHandle, modifyAssertion } from "openid-client";
import type { Configuration, DPoPHandle } from "openid-client";
import { CredbrokerError } from "../errors.ts";
import type { DpopKey } from "./dpop-key.ts";
import type { DpopNonces } from "./dpop-nonces.ts";

const WEBCRYPTO_ALGORITHMS: Readonly<Record<DpopKey["alg"], webcrypto.EcKeyImportParams | webcrypto.Algorithm>> = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};

/**
 * The DPoP option of one token request: openid-client's handle over the
 * secret's key (imported for this fetch only), whose proofs carry the last
 * nonce the endpoint's origin sent to any secret. openid-client retries
 * once on `use_dpop_nonce` with the nonce of that answer.
 */
export function dpopHandleFor(config: Configuration, key: DpopKey, nonces: DpopNonces): DPoPHandle {
  const algorithm = WEBCRYPTO_ALGORITHMS[key.alg];
  const keyPair = {
    privateKey: key.privateKey.toCryptoKey(algorithm, false, ["sign"]),
    publicKey: createPublicKey(key.privateKey).toCryptoKey(algorithm, true, ["verify"]),
  };
  return getDPoPHandle(config, keyPair, {
    [modifyAssertion]: (header, payload) => {
      // oauth4webapi names Ed25519 "Ed25519" (RFC 9864); EdDSA (RFC 8037) is what most servers know
      header.alg = key.alg;
      if (payload.nonce === undefined && typeof payload.htu === "string") {
        const nonce = nonces.get(new URL(payload.htu).origin);
        if (nonce !== undefined) {
          payload.nonce = nonce;
        }
      }
    },
  });
}

/**
 * Refuses a token of the wrong kind: a DPoP secret that gets a bearer token
 * has a server that did not bind it (no DPoP for this client, or a proxy
 * that dropped the header), and serving it as bearer would quietly drop
 * the protection asked for; asking again will not change that.
 */
export function checkTokenBinding(tokenType: string, dpop: boolean): void {
  if (dpop && tokenType !== "dpop") {
    throw new CredbrokerError(
      "ERR_OAUTH_TOKEN_TYPE",
      "token endpoint issued a token that is not DPoP-bound to a secret whose tokenBinding is DPoP; does the server support DPoP for this client?",
    );
  }
  if (!dpop && tokenType === "dpop") {
    throw new CredbrokerError(
      "ERR_OAUTH_TOKEN_TYPE",
      "token endpoint issued a DPoP-bound token to a secret whose tokenBinding is not DPoP",
    );
  }
}
