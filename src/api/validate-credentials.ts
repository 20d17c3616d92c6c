import { OAuth2AuthMethod, OAuth2TokenBinding, type Credentials, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialFaults } from "../credentials/credential-faults.ts";
import { secretTypeOf } from "../credentials/credential-registry.ts";
import { fieldTooLarge, invalidField } from "../errors.ts";
import { checkPrivateKey } from "../material/private-key.ts";
import { assertionKey } from "../oauth/assertion-key.ts";
import { dpopKey } from "../oauth/dpop-key.ts";

/** Checks credentials with the registry's rules and returns their type; the first fault names its field. */
export function checkCredentials(credentials: Credentials | undefined): SecretType {
  const kind = credentials?.kind;
  if (credentials === undefined || kind === undefined || kind.case === undefined) {
    throw invalidField("credentials", "is required: set exactly one credential type");
  }
  const fault = credentialFaults(credentials)[0];
  if (fault?.kind === "too-large") {
    throw fieldTooLarge(fault.path, fault.problem);
  }
  if (fault !== undefined) {
    throw invalidField(fault.path, fault.problem);
  }
  if (kind.case === "sftpPrivateKey") {
    // the one check the page cannot run: parsing the key needs node:crypto
    checkPrivateKey(kind.value.privateKey, kind.value.passphrase);
  }
  if (kind.case === "oauth2ClientCredentials" && kind.value.authMethod === OAuth2AuthMethod.OAUTH2_AUTH_METHOD_PRIVATE_KEY_JWT) {
    // the same: the key must parse and fit its algorithm
    assertionKey(kind.value.privateKey, kind.value.signingAlg);
  }
  if (kind.case === "oauth2ClientCredentials" && kind.value.tokenBinding === OAuth2TokenBinding.OAUTH2_TOKEN_BINDING_DPOP && kind.value.dpopPrivateKey !== "") {
    // a key of the operator's own; an empty one is the broker's to settle (settleDpopKey)
    dpopKey(kind.value.dpopPrivateKey);
  }
  return secretTypeOf(credentials);
}
