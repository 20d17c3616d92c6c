/**
 * The private key of a private_key_jwt secret: checked when the secret is
 * written (so a key that cannot sign is refused then, not at the first
 * Inject) and again when a token is fetched.
 */
import type { KeyObject } from "node:crypto";
import { invalidField } from "../errors.ts";
import { parsePrivateKeyText } from "./private-key-text.ts";

const KEY_FIELD = "credentials.oauth2ClientCredentials.privateKey";
const ALG_FIELD = "credentials.oauth2ClientCredentials.signingAlg";

// Below 2048 bits RSA is refused by Entra ID, Okta and NIST alike; above
// 8192 a signature costs tens of milliseconds for nothing.
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

/** The JWS algorithms of a client assertion, by key type; the first is the default. */
const ALGORITHMS: Readonly<Record<string, readonly string[]>> = {
  rsa: ["RS256", "PS256"],
  ec: ["ES256"],
  ed25519: ["EdDSA", "Ed25519"],
};
const KEY_NAMES: Readonly<Record<string, string>> = { rsa: "an RSA", ec: "an EC P-256", ed25519: "an Ed25519" };

/** A key that can sign client assertions, and the algorithm it signs with. */
export interface AssertionKey {
  /** The private key; never log it or put it into an error. */
  key: KeyObject;
  /** The JWS `alg`: RS256, PS256, ES256, EdDSA or Ed25519. */
  alg: string;
}

/**
 * Parses a private key (PEM or JWK text) and settles its algorithm: the
 * given one if the key type allows it, else the JWK's own `alg`, else the
 * key type's default. Throws ERR_INVALID_FIELD naming privateKey or signingAlg.
 */
export function assertionKey(text: string, signingAlg: string): AssertionKey {
  const { key, jwkAlg } = parsePrivateKeyText(text, KEY_FIELD);
  const type = key.asymmetricKeyType ?? "";
  const allowed = ALGORITHMS[type];
  if (allowed === undefined || (type === "ec" && key.asymmetricKeyDetails?.namedCurve !== "prime256v1")) {
    throw invalidField(KEY_FIELD, "must be an RSA, EC P-256 or Ed25519 private key");
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === "rsa" && (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)) {
    throw invalidField(KEY_FIELD, `an RSA key must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`);
  }
  const wanted = signingAlg !== "" ? signingAlg : (jwkAlg ?? allowed[0]!);
  if (!allowed.includes(wanted)) {
    const [field, what] = signingAlg !== "" ? [ALG_FIELD, "does not fit"] : [KEY_FIELD, "has a JWK alg that does not fit"];
    throw invalidField(field, `${what} ${KEY_NAMES[type]} key: use ${allowed.join(" or ")}`);
  }
  return { key, alg: wanted };
}
