import type { KeyObject, webcrypto } from "node:crypto";
import { PrivateKeyJwt, modifyAssertion } from "openid-client";
import type { ClientAuth } from "openid-client";
import type { OAuth2ClientCredentials } from "../gen/credbroker/v1/secret_pb.ts";
import { assertionKey } from "./assertion-key.ts";

/** The WebCrypto algorithm that signs with each JWS `alg` of a client assertion. */
const WEBCRYPTO_ALGORITHMS: Readonly<Record<string, webcrypto.AlgorithmIdentifier | webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams>> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
  Ed25519: { name: "Ed25519" },
};

/**
 * private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): openid-client's
 * PrivateKeyJwt, which signs a fresh assertion for every token request
 * (iss = sub = client id, a random jti, iat/nbf now, exp 60 s on) with
 * `aud` set to the token URL, or to the secret's assertionAudience. The key
 * is imported as a non-extractable CryptoKey for this fetch only.
 */
export function privateKeyJwt(credentials: OAuth2ClientCredentials): ClientAuth {
  const { key, alg } = assertionKey(credentials.privateKey, credentials.signingAlg);
  const audience = credentials.assertionAudience !== "" ? credentials.assertionAudience : credentials.tokenUrl;
  const kid = credentials.keyId !== "" ? credentials.keyId : undefined;
  return PrivateKeyJwt(
    { key: cryptoKeyOf(key, alg), ...(kid === undefined ? {} : { kid }) },
    {
      [modifyAssertion]: (header, payload) => {
        payload.aud = audience;
        // oauth4webapi names Ed25519 signatures "Ed25519" (RFC 9864); the
        // same signature under "EdDSA" (RFC 8037) is what most servers know
        header.alg = alg;
      },
    },
  );
}

function cryptoKeyOf(key: KeyObject, alg: string): webcrypto.CryptoKey {
  return key.toCryptoKey(WEBCRYPTO_ALGORITHMS[alg]!, false, ["sign"]);
}
