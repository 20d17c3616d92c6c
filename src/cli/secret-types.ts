import { credentialTypes } from "../credentials/credential-registry.ts";
import type { CredentialField, CredentialsCase } from "../credentials/credential-type.ts";
import { StepKind, StepKindSchema, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { UsageError } from "./command.ts";

/** How the CLI names and reads one secret type: the registry's type with its --type name. */
export interface TypeSpec {
  /** The CLI's name, for --type. */
  name: string;
  type: SecretType;
  /** The Credentials oneof case. */
  credentialsCase: CredentialsCase;
  fields: readonly CredentialField[];
  /** The one field of a type that has one: the input may be its value alone instead of a JSON object. */
  rawField?: CredentialField;
}

/** Each type's --type name. */
export const cliTypeNames: Readonly<Record<CredentialsCase, string>> = {
  basicAuth: "basic",
  bearerToken: "bearer",
  apiKey: "api-key",
  sftpPassword: "sftp-password",
  sftpPrivateKey: "sftp-key",
  oauth2ClientCredentials: "oauth2",
  jsonCredentials: "json",
};

/** The secret types, in the order of the SecretType enum. */
export const typeSpecs: readonly TypeSpec[] = credentialTypes.map((type) => {
  const only = type.fields.length === 1 ? type.fields[0] : undefined;
  return {
    name: cliTypeNames[type.case],
    type: type.secretType,
    credentialsCase: type.case,
    fields: type.fields,
    ...(only === undefined ? {} : { rawField: only }),
  };
});

/** The --type values, for usage texts. */
export const typeNames = typeSpecs.map((spec) => spec.name).join("|");

/** The spec of a --type value. */
export function typeSpecByName(name: string | undefined): TypeSpec {
  if (name === undefined) {
    throw new UsageError(`missing --type ${typeNames}`);
  }
  const spec = typeSpecs.find((candidate) => candidate.name === name);
  if (spec === undefined) {
    throw new UsageError(`--type must be one of ${typeNames}, got "${name}"`);
  }
  return spec;
}

/** The spec of a secret's type as the broker reports it. */
export function typeSpecOf(type: SecretType): TypeSpec | undefined {
  return typeSpecs.find((candidate) => candidate.type === type);
}

/** The CLI's name of a secret type. */
export function typeName(type: SecretType): string {
  return typeSpecOf(type)?.name ?? `unknown (${type})`;
}

/** The --step names (`http`), by step: the StepKind values' names without their prefix. */
const stepKinds = StepKindSchema.values
  .filter((value) => value.number !== StepKind.UNSPECIFIED)
  .map((value) => ({ name: value.name.replace(/^STEP_KIND_/, "").toLowerCase(), step: value.number as StepKind }));

/** The --step values. */
export const stepNames = stepKinds.map((kind) => kind.name).join("|");

/** The step kind named by --step; absent means the type's natural step. */
export function stepKindByName(name: string | undefined): StepKind {
  if (name === undefined) {
    return StepKind.UNSPECIFIED;
  }
  const kind = stepKinds.find((candidate) => candidate.name === name);
  if (kind === undefined) {
    throw new UsageError(`--step must be one of ${stepNames}, got "${name}"`);
  }
  return kind.step;
}
