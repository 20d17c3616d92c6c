import { create } from "@bufbuild/protobuf";
import { credentialTypes } from "../../src/credentials/credential-registry.ts";
import type { CredentialField, CredentialsCase } from "../../src/credentials/credential-type.ts";
import { CredentialsSchema, SecretType, SecretTypeSchema, type Credentials } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { fieldLabels, typeLabels } from "./field-labels.ts";

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
  /** One of an enum's values (the OAuth2 client authentication method). */
  | "choice";

/** One field of a secret type's credentials: the registry's field with the page's words. */
export interface FieldSpec {
  /** The field's JSON name in its Credentials case. */
  name: string;
  /** The field's path, as the server names it in errors (`credentials.apiKey.keyName`). */
  path: string;
  /** The field's path as an update mask names it (proto names: `credentials.basic_auth.password`). */
  maskPath: string;
  label: string;
  input: FieldInput;
  optional: boolean;
  /** Holds a credential: never read back, so an edit starts it empty ("unchanged"). */
  sensitive: boolean;
  /** A hint shown under the field. */
  hint?: string;
  /** The values of a choice: the enum's numbers (as strings) and their words. */
  options: readonly { value: string; label: string }[];
}

/** One secret type: its label in the dropdown and its fields. */
export interface TypeSpec {
  type: SecretType;
  label: string;
  /** The Credentials oneof case. */
  credentialsCase: CredentialsCase;
  fields: readonly FieldSpec[];
}

/** The secret types, in the order of the SecretType enum. */
export const typeSpecs: readonly TypeSpec[] = credentialTypes.map((type) => ({
  type: type.secretType,
  label: typeLabels[type.case],
  credentialsCase: type.case,
  fields: type.fields.map((field) => fieldSpec(field, maskPrefix(type.case))),
}));

/** The update-mask path of a Credentials case (`credentials.basic_auth`). */
function maskPrefix(credentialsCase: CredentialsCase): string {
  const oneofField = CredentialsSchema.fields.find((field) => field.localName === credentialsCase);
  return `credentials.${oneofField?.name ?? credentialsCase}`;
}

function fieldSpec(field: CredentialField, prefix: string): FieldSpec {
  // the registry test checks that every path has a label
  const words = fieldLabels[field.path as keyof typeof fieldLabels];
  const options = (field.enum?.values ?? [])
    .filter((value) => value.number !== 0)
    .map((value) => ({ value: String(value.number), label: words.options?.[value.name] ?? value.name }));
  return {
    name: field.name,
    path: field.path,
    maskPath: `${prefix}.${field.desc.name}`,
    label: words.label,
    input: inputOf(field),
    optional: field.optional,
    sensitive: field.sensitive,
    ...(words.hint === undefined ? {} : { hint: words.hint }),
    options,
  };
}

function inputOf(field: CredentialField): FieldInput {
  if (field.kind === "list") return "list";
  if (field.kind === "enum") return "choice";
  // a JSON document holds keys: masked like a private key
  if (field.text === "document" || field.text === "lines") return field.sensitive ? "secret-text" : "textarea";
  return field.sensitive ? "password" : "text";
}

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

/** The empty values of a type's fields; a choice starts at its first value. */
export function emptyValues(spec: TypeSpec): FieldValues {
  return Object.fromEntries(spec.fields.map((field) => [field.name, field.input === "list" ? [] : (field.options[0]?.value ?? "")]));
}

/**
 * The form's values of a stored secret: its readable (non-sensitive) fields
 * as GetSecret answers them, every sensitive field empty (it is never read
 * back), a choice the broker left unset at its first value.
 */
export function readableValues(spec: TypeSpec, credentials: Credentials | undefined): FieldValues {
  const values = emptyValues(spec);
  const stored: Record<string, unknown> = credentials?.kind.case === spec.credentialsCase ? { ...credentials.kind.value } : {};
  for (const field of spec.fields) {
    const value = stored[field.name];
    if (field.sensitive || value === undefined) {
      continue;
    }
    if (field.input === "list") {
      values[field.name] = Array.isArray(value) ? value.map(String) : [];
    } else if (field.input === "choice") {
      // 0 is the enum's unspecified value, which the broker reads as the first choice
      values[field.name] = value === 0 ? (field.options[0]?.value ?? "") : String(value);
    } else {
      values[field.name] = String(value);
    }
  }
  return values;
}

/** A list with the words of a typed draft added (split at spaces, each once). */
export function withWords(list: readonly string[], draft: string): string[] {
  const words = draft.split(/\s+/).filter((word) => word !== "");
  return [...new Set([...list, ...words])];
}

/**
 * The values with each list's draft (typed, not added yet) added, so that a
 * scope typed before Save is saved: the draft is not added on blur, where the
 * new chip would move the button the pointer is on and swallow its click.
 */
export function withDrafts(values: FieldValues, drafts: Readonly<Record<string, string>>): FieldValues {
  const merged = { ...values };
  for (const [name, draft] of Object.entries(drafts)) {
    const list = merged[name];
    if (Array.isArray(list)) {
      merged[name] = withWords(list, draft);
    }
  }
  return merged;
}

/** The Credentials message of the form's values. */
export function toCredentials(spec: TypeSpec, values: FieldValues): Credentials {
  const value: Record<string, unknown> = {};
  for (const field of spec.fields) {
    const raw = values[field.name];
    value[field.name] = field.input === "choice" ? Number(raw) : raw;
  }
  // the oneof case and its fields both come from the registry
  return create(CredentialsSchema, { kind: { case: spec.credentialsCase, value } as Credentials["kind"] });
}
