import { CredentialsSchema, SecretType, SecretTypeSchema, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialRules } from "./credential-rules.ts";
import { credentialSteps } from "./credential-steps.ts";
import type { CredentialsCase, CredentialType } from "./credential-type.ts";
import { describeCredentials } from "./describe-credentials.ts";

/** Every credential type, in the order of the Credentials oneof (and of the SecretType enum). */
export const credentialTypes: readonly CredentialType[] = describeCredentials({
  credentials: CredentialsSchema,
  secretTypes: SecretTypeSchema,
  rules: credentialRules,
  steps: credentialSteps,
});

/** The credential type of a SecretType; undefined for one no case stands for (unspecified, or unknown). */
export function credentialTypeOf(type: SecretType): CredentialType | undefined {
  return credentialTypes.find((candidate) => candidate.secretType === type);
}

/** The credential type of a Credentials oneof case. */
export function credentialTypeOfCase(kase: CredentialsCase): CredentialType {
  // describeCredentials walked every case of the oneof
  return credentialTypes.find((candidate) => candidate.case === kase)!;
}

/** The SecretType that credentials are of; unspecified when no case is set. */
export function secretTypeOf(credentials: Credentials): SecretType {
  const kase = credentials.kind.case;
  return kase === undefined ? SecretType.UNSPECIFIED : credentialTypeOfCase(kase).secretType;
}

/** The names of the fields that hold credentials (`debug_redact`), in any type. */
export const sensitiveFieldNames: ReadonlySet<string> = new Set(
  credentialTypes.flatMap((type) => type.fields.filter((field) => field.sensitive).map((field) => field.name)),
);

/** The names of the fields that hold no credential in any type (user names, header names, URLs). */
export const plainFieldNames: ReadonlySet<string> = new Set(
  credentialTypes.flatMap((type) => type.fields.map((field) => field.name)).filter((name) => !sensitiveFieldNames.has(name)),
);
