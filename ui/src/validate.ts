import { descriptionControlCharacters, maxDescriptionLength, namePattern } from "../../src/api/validation-rules.ts";
import { credentialFaults } from "../../src/credentials/credential-faults.ts";
import { asSentence } from "./errors.ts";
import { labelInSentence } from "./field-labels.ts";
import { toCredentials, type FieldValues, type TypeSpec } from "./secret-types.ts";

/**
 * Client-side checks that mirror the server's (src/api/validate-*.ts): the
 * same patterns and limits (src/api/validation-rules.ts) and, for the
 * credential fields, the same rules (the registry's, src/credentials/), so
 * that most mistakes are shown before a round trip. The server stays the
 * judge: what it refuses is shown at the field its error names. Problems
 * are keyed by the field path the server uses (`credentials.apiKey.keyName`).
 */
export type Problems = Record<string, string>;

/** Checks a secret name; undefined when it is fine. */
export function nameProblem(name: string): string | undefined {
  if (name === "") {
    return "Enter a name.";
  }
  if (!namePattern.test(name)) {
    return "Use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.";
  }
  return undefined;
}

/** Checks a description; undefined when it is fine. */
export function descriptionProblem(description: string): string | undefined {
  if (description.length > maxDescriptionLength) {
    return `At most ${maxDescriptionLength} characters.`;
  }
  if (descriptionControlCharacters.test(description)) {
    return "Remove the control characters.";
  }
  return undefined;
}

/**
 * Checks the credential fields of one type with the broker's rules, keyed by
 * the server's field paths (a list's, not its item's). `kept` names the
 * paths of an edit's sensitive fields left empty: the stored value stays, so
 * an empty one is no fault there.
 */
export function credentialProblems(spec: TypeSpec, values: FieldValues, kept: ReadonlySet<string> = new Set()): Problems {
  const problems: Problems = {};
  for (const fault of credentialFaults(toCredentials(spec, values))) {
    if (kept.has(fault.field.path)) {
      continue;
    }
    const label = spec.fields.find((field) => field.path === fault.field.path)?.label ?? fault.field.name;
    problems[fault.field.path] = fault.kind === "required" ? `Enter the ${labelInSentence(label)}.` : (fault.sentence ?? asSentence(fault.problem));
  }
  return problems;
}
