import { create, type DescMessage } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import { credentialTypeOf, credentialTypeOfCase } from "../credentials/credential-registry.ts";
import type { CredentialsCase } from "../credentials/credential-type.ts";
import { CredentialsSchema, SecretTypeSchema, type Credentials, type SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import { invalidField } from "../errors.ts";

/** What an update mask changes. */
export interface MaskedChange {
  /** The description is replaced (by the request's, or emptied). */
  readonly description: boolean;
  /** Every credential value is replaced by the request's. */
  readonly allCredentials: boolean;
  /** The credential fields replaced by the request's, by local name (`password`); empty with allCredentials. */
  readonly credentialFields: readonly string[];
}

/** Request fields that identify or guard the secret: never a path of the mask. */
const fixedPaths: ReadonlySet<string> = new Set(["name", "mode", "expected_version", "update_mask"]);

/**
 * Checks an update mask's paths (AIP-134, proto field names) against the
 * stored secret's type; INVALID_ARGUMENT naming the path for an unknown
 * field, a field of another type, or `name`/`mode`.
 */
export function checkUpdateMask(mask: FieldMask, storedType: SecretType): MaskedChange {
  let description = false;
  let allCredentials = false;
  const credentialFields = new Set<string>();
  mask.paths.forEach((path, i) => {
    const at = `updateMask.paths[${i}]`;
    if (path === "description") {
      description = true;
      return;
    }
    if (path === "credentials") {
      allCredentials = true;
      return;
    }
    if (fixedPaths.has(path)) {
      throw invalidField(at, `"${path}" cannot be updated`);
    }
    const [head, caseName, fieldName, ...rest] = path.split(".");
    const kase = CredentialsSchema.fields.find((field) => field.name === caseName)?.localName as CredentialsCase | undefined;
    if (head !== "credentials" || kase === undefined || rest.length > 0) {
      throw invalidField(at, `"${path}" is not a field of UpdateSecretRequest (paths use proto field names)`);
    }
    const type = credentialTypeOfCase(kase);
    if (type.secretType !== storedType) {
      throw invalidField(at, `"${path}" is a field of ${typeName(type.secretType)}, not of this ${typeName(storedType)} secret`);
    }
    if (fieldName === undefined) {
      allCredentials = true;
      return;
    }
    const field = type.fields.find((candidate) => candidate.desc.name === fieldName);
    if (field === undefined) {
      throw invalidField(at, `"${path}" is not a field of ${typeName(storedType)} (paths use proto field names)`);
    }
    credentialFields.add(field.name);
  });
  return { description, allCredentials, credentialFields: allCredentials ? [] : [...credentialFields] };
}

/**
 * The stored credentials with the masked fields taken from the request's
 * (which must be of the same case, or unset: an emptied field). The result
 * is a new message; neither input is changed.
 */
export function maskedCredentials(stored: Credentials, requested: Credentials | undefined, fields: readonly string[]): Credentials {
  const kind = stored.kind;
  if (kind.case === undefined) {
    return stored;
  }
  const type = credentialTypeOfCase(kind.case);
  const given = requested?.kind.case === kind.case ? (requested.kind.value as unknown as Record<string, unknown>) : undefined;
  const values: Record<string, unknown> = { ...(kind.value as unknown as Record<string, unknown>) };
  for (const name of fields) {
    const value = given?.[name];
    values[name] = Array.isArray(value) ? [...(value as string[])] : value;
    if (value === undefined) {
      // not given: the field's zero value, as a message without it holds
      delete values[name];
    }
  }
  delete values["$typeName"];
  const value = create(type.message as DescMessage, values);
  return create(CredentialsSchema, { kind: { case: kind.case, value } as never });
}

function typeName(type: SecretType): string {
  return SecretTypeSchema.value[type]?.name ?? String(credentialTypeOf(type)?.case ?? type);
}
