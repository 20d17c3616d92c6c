import { SecretType, StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { UsageError } from "./command.ts";

/** A credential field as the CLI reads it. */
export interface FieldSpec {
  /** The field's JSON name, as in the Credentials message. */
  name: string;
  /** A credential value: read with a hidden prompt, never printed. */
  secret: boolean;
  /** May be left out. */
  optional: boolean;
  /** Spans lines (a private key): cannot be typed at a prompt. */
  multiline?: boolean;
}

/** How the CLI names and reads one secret type. */
export interface TypeSpec {
  /** The CLI's name, for --type. */
  name: string;
  type: SecretType;
  /** The Credentials oneof case. */
  credentialsCase: string;
  fields: readonly FieldSpec[];
  /**
   * A field whose value the input may be on its own instead of a JSON object
   * ("token" of bearer, the whole document of json).
   */
  rawField?: string;
}

const field = (name: string, secret: boolean, optional = false): FieldSpec => ({ name, secret, optional });

/** The secret types, in the order of the SecretType enum. */
export const typeSpecs: readonly TypeSpec[] = [
  { name: "basic", type: SecretType.BASIC_AUTH, credentialsCase: "basicAuth", fields: [field("username", false), field("password", true)] },
  { name: "bearer", type: SecretType.BEARER_TOKEN, credentialsCase: "bearerToken", fields: [field("token", true)], rawField: "token" },
  { name: "api-key", type: SecretType.API_KEY, credentialsCase: "apiKey", fields: [field("keyName", false), field("keyValue", true)] },
  {
    name: "sftp-password",
    type: SecretType.SFTP_PASSWORD,
    credentialsCase: "sftpPassword",
    fields: [field("username", false), field("password", true)],
  },
  {
    name: "sftp-key",
    type: SecretType.SFTP_PRIVATE_KEY,
    credentialsCase: "sftpPrivateKey",
    fields: [field("username", false), { ...field("privateKey", true), multiline: true }, field("passphrase", true, true)],
  },
  {
    name: "oauth2",
    type: SecretType.OAUTH2_CLIENT_CREDENTIALS,
    credentialsCase: "oauth2ClientCredentials",
    fields: [
      field("clientId", false),
      field("clientSecret", true),
      field("tokenUrl", false),
      field("scopes", false, true),
      field("audience", false, true),
      field("resource", false, true),
      field("authMethod", false, true),
    ],
  },
  { name: "json", type: SecretType.JSON_CREDENTIALS, credentialsCase: "jsonCredentials", fields: [field("json", true)], rawField: "json" },
];

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

/** The --step values. */
export const stepNames = "http|sftp|code";

/** The step kind named by --step; absent means the type's natural step. */
export function stepKindByName(name: string | undefined): StepKind {
  switch (name) {
    case undefined:
      return StepKind.UNSPECIFIED;
    case "http":
      return StepKind.HTTP;
    case "sftp":
      return StepKind.SFTP;
    case "code":
      return StepKind.CODE;
    default:
      throw new UsageError(`--step must be one of ${stepNames}, got "${name}"`);
  }
}
