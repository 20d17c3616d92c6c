import type { Credentials, SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialFaults } from "../credentials/credential-faults.ts";
import { secretTypeOf } from "../credentials/credential-registry.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { checkPrivateKey } from "../material/private-key.ts";

/** Checks credentials with the registry's rules and returns their type; the first fault names its field. */
export function checkCredentials(credentials: Credentials | undefined): SecretType {
  const kind = credentials?.kind;
  if (credentials === undefined || kind === undefined || kind.case === undefined) {
    throw invalidField("credentials", "is required: set exactly one credential type");
  }
  const fault = credentialFaults(credentials)[0];
  if (fault?.kind === "too-large") {
    throw new CredbrokerError("ERR_TOO_LARGE", `${fault.path}: ${fault.problem}`, { field: fault.path });
  }
  if (fault !== undefined) {
    throw invalidField(fault.path, fault.problem);
  }
  if (kind.case === "sftpPrivateKey") {
    // the one check the page cannot run: parsing the key needs node:crypto
    checkPrivateKey(kind.value.privateKey, kind.value.passphrase);
  }
  return secretTypeOf(credentials);
}
