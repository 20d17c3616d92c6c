import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import type { SecretType } from "../gen/credbroker/v1/secret_pb.ts";
import type { CredentialField, CredentialsCase, CredentialType, FieldRule, StepPolicy } from "./credential-type.ts";

/** What the registry is derived from: the descriptors, and the tables for what they cannot say. */
export interface CredentialSources {
  /** The Credentials message: one oneof, one case per type. */
  credentials: DescMessage;
  /** The SecretType enum: `SECRET_TYPE_<CASE>` for every case. */
  secretTypes: DescEnum;
  /** The rule of every field, keyed by path. */
  rules: Readonly<Record<string, FieldRule>>;
  /** The steps of every case. */
  steps: Readonly<Record<string, StepPolicy>>;
}

/** The path of every credential field (`credentials.basicAuth.username`), walking the Credentials oneof. */
export function credentialFieldPaths(credentials: DescMessage): string[] {
  return caseFields(credentials).flatMap((kase) => kase.message.fields.map((field) => pathOf(kase.field, field)));
}

/**
 * The credential types of the sources, in the order of the oneof. Throws
 * naming every case without a SecretType or steps and every field without
 * a rule or of a kind the registry does not know, so that a field added
 * to the proto cannot be missed.
 */
export function describeCredentials(sources: CredentialSources): CredentialType[] {
  const gaps: string[] = [];
  const types = caseFields(sources.credentials).map((kase) => {
    const name = `SECRET_TYPE_${kase.field.name.toUpperCase()}`;
    const secretType = sources.secretTypes.values.find((value) => value.name === name)?.number;
    const steps = sources.steps[kase.field.localName];
    if (secretType === undefined) gaps.push(`${kase.field.localName}: no SecretType ${name}`);
    if (steps === undefined) gaps.push(`${kase.field.localName}: no steps`);
    const fields = kase.message.fields.flatMap((desc) => {
      const field = describeField(pathOf(kase.field, desc), desc, sources.rules);
      if (typeof field === "string") {
        gaps.push(field);
        return [];
      }
      return [field];
    });
    return {
      // the oneof's field names are the Credentials kind cases
      case: kase.field.localName as CredentialsCase,
      secretType: (secretType ?? 0) as SecretType,
      message: kase.message,
      fields,
      naturalStep: steps?.natural ?? 0,
      steps: steps?.serves ?? [],
      narrowed: steps?.narrowed,
    };
  });
  if (gaps.length > 0) {
    throw new Error(`the credential registry does not cover the proto: ${gaps.join("; ")}`);
  }
  return types;
}

/** A field, or what is missing for it. */
function describeField(path: string, desc: DescField, rules: Readonly<Record<string, FieldRule>>): CredentialField | string {
  const rule = rules[path];
  if (rule === undefined) {
    return `${path}: no rule`;
  }
  const kind = kindOf(desc);
  if (kind === undefined) {
    return `${path}: a ${desc.fieldKind} field of a kind the registry does not know`;
  }
  return {
    name: desc.localName,
    path,
    kind,
    enum: desc.fieldKind === "enum" ? desc.enum : undefined,
    sensitive: desc.proto.options?.debugRedact === true,
    optional: !rule.required || rule.onlyWhen !== undefined,
    text: rule.text ?? "line",
    rule,
    desc,
  };
}

function kindOf(desc: DescField): CredentialField["kind"] | undefined {
  switch (desc.fieldKind) {
    case "scalar":
      return desc.scalar === ScalarType.STRING ? "string" : undefined;
    case "list":
      return desc.listKind === "scalar" && desc.scalar === ScalarType.STRING ? "list" : undefined;
    case "enum":
      return "enum";
    default:
      return undefined;
  }
}

interface CaseField {
  field: DescField;
  message: DescMessage;
}

/** The cases of the Credentials oneof, each with the message of its values. */
function caseFields(credentials: DescMessage): CaseField[] {
  const oneof = credentials.oneofs[0];
  if (credentials.oneofs.length !== 1 || oneof === undefined) {
    throw new Error(`${credentials.typeName} must have exactly one oneof`);
  }
  return oneof.fields.map((field) => {
    if (field.fieldKind !== "message") {
      throw new Error(`${credentials.typeName}.${field.name} must be a message`);
    }
    return { field, message: field.message };
  });
}

function pathOf(kase: DescField, field: DescField): string {
  return `credentials.${kase.localName}.${field.localName}`;
}
