import {
  controlCharacters,
  descriptionControlCharacters,
  headerNamePattern,
  headerValueForbidden,
  isJsonObject,
  maxDescriptionLength,
  maxFieldBytes,
  maxScopes,
  namePattern,
  reservedHeaders,
  scopeTokenPattern,
} from "../../src/api/validation-rules.ts";
import { tokenUrlProblem } from "../../src/oauth/token-url.ts";
import { asSentence } from "./errors.ts";
import type { FieldSpec, FieldValues, TypeSpec } from "./secret-types.ts";

/**
 * Client-side checks that mirror the server's (src/api/validate-*.ts, with
 * the same patterns and limits from src/api/validation-rules.ts), so
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

/** Checks the credential fields of one type, keyed by the server's field paths. */
export function credentialProblems(spec: TypeSpec, values: FieldValues): Problems {
  const problems: Problems = {};
  for (const field of spec.fields) {
    const problem = fieldProblem(spec, field, values[field.name] ?? "");
    if (problem !== undefined) {
      problems[fieldPath(spec, field.name)] = problem;
    }
  }
  return problems;
}

/** The server's path of a credential field. */
export function fieldPath(spec: TypeSpec, name: string): string {
  return `credentials.${spec.credentialsCase}.${name}`;
}

function fieldProblem(spec: TypeSpec, field: FieldSpec, value: string | string[]): string | undefined {
  if (Array.isArray(value)) {
    if (value.length > maxScopes) {
      return `At most ${maxScopes} scopes.`;
    }
    const bad = value.find((scope) => !scopeTokenPattern.test(scope));
    return bad === undefined ? undefined : "A scope is one word without spaces or quotes.";
  }
  if (value === "") {
    return field.optional ? undefined : `Enter the ${field.label.toLowerCase()}.`;
  }
  if (new TextEncoder().encode(value).length > maxFieldBytes) {
    return "At most 64 KiB.";
  }
  switch (`${spec.credentialsCase}.${field.name}`) {
    case "basicAuth.username":
      if (value.includes(":")) {
        return "A basic auth username cannot contain ':'.";
      }
      return controlCharacters.test(value) ? "Remove the control characters." : undefined;
    case "sftpPassword.username":
    case "sftpPrivateKey.username":
    case "oauth2ClientCredentials.clientId":
    case "oauth2ClientCredentials.audience":
      return controlCharacters.test(value) ? "Remove the control characters." : undefined;
    case "apiKey.keyName":
      if (!headerNamePattern.test(value)) {
        return "Use a valid HTTP header name (letters, digits and -, no spaces).";
      }
      return reservedHeaders.has(value.toLowerCase()) ? "This header is set by the HTTP client itself; pick another." : undefined;
    case "apiKey.keyValue":
    case "bearerToken.token":
      if (headerValueForbidden.test(value)) {
        return "Must be a valid HTTP header value: no line breaks or control characters.";
      }
      return value.trim() === value ? undefined : "Remove the spaces at the start or end.";
    case "oauth2ClientCredentials.tokenUrl": {
      // the broker's own check and words: whether http is allowed depends on the host
      const problem = tokenUrlProblem(value);
      return problem === undefined ? undefined : asSentence(problem);
    }
    case "oauth2ClientCredentials.resource":
      return URL.canParse(value) && new URL(value).hash === "" ? undefined : "Use an absolute URI without a #fragment.";
    case "jsonCredentials.json":
      return isJsonObject(value) ? undefined : "Enter JSON text that is an object ({ ... }).";
    default:
      return undefined;
  }
}
