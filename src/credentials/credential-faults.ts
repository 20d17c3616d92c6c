import type { Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialTypeOfCase } from "./credential-registry.ts";
import type { CredentialField, FieldCondition } from "./credential-type.ts";
import { isOversized, maxFieldBytes, type CheckFault } from "./field-checks.ts";

/** Why a credential field is refused. */
export interface FieldFault extends CheckFault {
  /** The field at fault. */
  field: CredentialField;
  /** Where: the field's path, with the index of a list item (`credentials.oauth2ClientCredentials.scopes[3]`). */
  path: string;
  /** Missing, over the size cap, or failing a check. */
  kind: "required" | "too-large" | "invalid";
}

/**
 * The first fault of every faulty field of the set case, in the order of
 * the proto; empty when the values are valid. The broker refuses with the
 * first, the admin page shows them all.
 */
export function credentialFaults(credentials: Credentials): FieldFault[] {
  const kind = credentials.kind;
  if (kind.case === undefined) {
    return [];
  }
  // a message's fields are its properties by their local names
  const values = kind.value as unknown as Record<string, unknown>;
  return credentialTypeOfCase(kind.case).fields.flatMap((field) => {
    const condition = field.rule.onlyWhen;
    const fault =
      condition === undefined || condition.holds(values)
        ? fieldFault(field, values[field.name])
        : inapplicableFault(field, values[field.name], condition);
    return fault === undefined ? [] : [fault];
  });
}

function fieldFault(field: CredentialField, value: unknown): FieldFault | undefined {
  switch (field.kind) {
    case "string":
      return stringFault(field, field.path, String(value));
    case "list": {
      const items = value as readonly string[];
      if (items.length === 0) {
        return missing(field);
      }
      const max = field.rule.maxItems;
      if (max !== undefined && items.length > max) {
        return { field, path: field.path, kind: "invalid", problem: `at most ${max} ${field.name}`, sentence: `At most ${max} ${field.name}.` };
      }
      for (const [i, item] of items.entries()) {
        const fault = stringFault(field, `${field.path}[${i}]`, item);
        if (fault !== undefined) {
          return fault;
        }
      }
      return undefined;
    }
    case "enum": {
      if (value === 0) {
        return missing(field);
      }
      const known = field.enum?.values.some((candidate) => candidate.number === value) === true;
      return known
        ? undefined
        : { field, path: field.path, kind: "invalid", problem: `must be a known ${field.enum?.name ?? "value"}`, sentence: "Choose one of the options." };
    }
  }
}

/** A value given to a field that the case's other values say it does not take. */
function inapplicableFault(field: CredentialField, value: unknown, condition: FieldCondition): FieldFault | undefined {
  const given = Array.isArray(value) ? value.length > 0 : value !== "" && value !== 0 && value !== undefined;
  return given ? { field, path: field.path, kind: "invalid", problem: condition.problem, sentence: condition.sentence } : undefined;
}

function stringFault(field: CredentialField, path: string, value: string): FieldFault | undefined {
  if (value === "") {
    // an empty list item is a fault of its own: the checks say what an item must be
    return path === field.path ? missing(field) : checkFault(field, path, value);
  }
  if (isOversized(value)) {
    return { field, path, kind: "too-large", problem: `must be at most ${maxFieldBytes} bytes`, sentence: `At most ${maxFieldBytes / 1024} KiB.` };
  }
  return checkFault(field, path, value);
}

function checkFault(field: CredentialField, path: string, value: string): FieldFault | undefined {
  for (const check of field.rule.checks) {
    const fault = check(value);
    if (fault !== undefined) {
      return { field, path, kind: "invalid", ...fault };
    }
  }
  return undefined;
}

/** Nothing given: a fault when the field is required (its condition, if any, holds here). */
function missing(field: CredentialField): FieldFault | undefined {
  return field.rule.required ? { field, path: field.path, kind: "required", problem: "is required" } : undefined;
}
