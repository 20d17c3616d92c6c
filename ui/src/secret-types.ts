import { create } from "@bufbuild/protobuf";
import {
  CredentialsSchema,
  OAuth2AuthMethod,
  SecretType,
  SecretTypeSchema,
  type Credentials,
} from "../../src/gen/credbroker/v1/secret_pb.ts";

/** How the form asks for one credential field. */
export type FieldInput =
  /** One line of plain text. */
  | "text"
  /** One line, masked (a password, a token, a key value). */
  | "password"
  /** Several lines, masked until shown (a private key). */
  | "secret-text"
  /** Several lines of plain text (a JSON document). */
  | "textarea"
  /** A list of short values (OAuth2 scopes). */
  | "list"
  /** The OAuth2 client authentication method. */
  | "auth-method";

/** One field of a secret type's credentials. */
export interface FieldSpec {
  /** The field's JSON name in its Credentials case, as the server names it in errors. */
  name: string;
  label: string;
  input: FieldInput;
  optional: boolean;
  /** A hint shown under the field. */
  hint?: string;
}

/** One secret type: its label in the dropdown and its fields. */
export interface TypeSpec {
  type: SecretType;
  label: string;
  /** The Credentials oneof case. */
  credentialsCase: NonNullable<Credentials["kind"]["case"]>;
  fields: readonly FieldSpec[];
}

const username: FieldSpec = { name: "username", label: "Username", input: "text", optional: false };
const password: FieldSpec = { name: "password", label: "Password", input: "password", optional: false };

/** The secret types, in the order of the SecretType enum. */
export const typeSpecs: readonly TypeSpec[] = [
  { type: SecretType.BASIC_AUTH, label: "Basic auth", credentialsCase: "basicAuth", fields: [username, password] },
  {
    type: SecretType.BEARER_TOKEN,
    label: "Bearer token",
    credentialsCase: "bearerToken",
    fields: [{ name: "token", label: "Token", input: "password", optional: false }],
  },
  {
    type: SecretType.API_KEY,
    label: "API key",
    credentialsCase: "apiKey",
    fields: [
      { name: "keyName", label: "Key name", input: "text", optional: false, hint: "The HTTP header that carries the key, e.g. X-API-Key." },
      { name: "keyValue", label: "Key value", input: "password", optional: false },
    ],
  },
  { type: SecretType.SFTP_PASSWORD, label: "SFTP password", credentialsCase: "sftpPassword", fields: [username, password] },
  {
    type: SecretType.SFTP_PRIVATE_KEY,
    label: "SFTP private key",
    credentialsCase: "sftpPrivateKey",
    fields: [
      username,
      { name: "privateKey", label: "Private key", input: "secret-text", optional: false, hint: "PEM or OpenSSH format." },
      { name: "passphrase", label: "Passphrase", input: "password", optional: true, hint: "Only for an encrypted key." },
    ],
  },
  {
    type: SecretType.OAUTH2_CLIENT_CREDENTIALS,
    label: "OAuth2 client credentials",
    credentialsCase: "oauth2ClientCredentials",
    fields: [
      { name: "clientId", label: "Client ID", input: "text", optional: false },
      { name: "clientSecret", label: "Client secret", input: "password", optional: false },
      { name: "tokenUrl", label: "Token URL", input: "text", optional: false, hint: "https://, or http:// to loopback." },
      { name: "scopes", label: "Scopes", input: "list", optional: true },
      { name: "audience", label: "Audience", input: "text", optional: true },
      { name: "resource", label: "Resource", input: "text", optional: true, hint: "An absolute URI (RFC 8707)." },
      { name: "authMethod", label: "Client authentication", input: "auth-method", optional: true },
    ],
  },
  {
    type: SecretType.JSON_CREDENTIALS,
    label: "JSON (service account)",
    credentialsCase: "jsonCredentials",
    fields: [{ name: "json", label: "JSON document", input: "textarea", optional: false, hint: "A JSON object." }],
  },
];

/** A secret type's name in the API (`SECRET_TYPE_API_KEY`), as the type dropdown's option values carry it. */
export function secretTypeName(type: SecretType): string {
  return SecretTypeSchema.values.find((value) => value.number === type)?.name ?? "SECRET_TYPE_UNSPECIFIED";
}

/** The secret type of an API name; unspecified for a name it does not know. */
export function secretTypeOf(name: string): SecretType {
  return (SecretTypeSchema.values.find((value) => value.name === name)?.number ?? SecretType.UNSPECIFIED) as SecretType;
}

/** The spec of a secret type; undefined for a type this page does not know. */
export function typeSpecOf(type: SecretType): TypeSpec | undefined {
  return typeSpecs.find((spec) => spec.type === type);
}

/** What the form holds for one secret type's fields: strings, and a list for scopes. */
export type FieldValues = Record<string, string | string[]>;

/** The empty values of a type's fields. */
export function emptyValues(spec: TypeSpec): FieldValues {
  return Object.fromEntries(
    spec.fields.map((field) => [field.name, field.input === "list" ? [] : field.input === "auth-method" ? String(OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC) : ""]),
  );
}

/** The Credentials message of the form's values. */
export function toCredentials(spec: TypeSpec, values: FieldValues): Credentials {
  const value: Record<string, unknown> = {};
  for (const field of spec.fields) {
    const raw = values[field.name];
    value[field.name] = field.input === "auth-method" ? Number(raw) : raw;
  }
  // the oneof case and its value are checked together by the spec table above
  return create(CredentialsSchema, { kind: { case: spec.credentialsCase, value } as Credentials["kind"] });
}
