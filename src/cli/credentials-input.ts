import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { CredentialField } from "../credentials/credential-type.ts";
import { CredentialsSchema, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { CliError } from "./command.ts";
import type { TypeSpec } from "./secret-types.ts";

/**
 * Turns input text into Credentials of a type: a JSON object of the type's
 * fields, or, for a type of one field (bearer, json), the bare value; a
 * JSON document is always the bare value. `source` names the input in
 * messages ("stdin", a file name); no message ever quotes the input.
 */
export function credentialsFromText(spec: TypeSpec, text: string, source: string): Credentials {
  const trimmed = text.replace(/[\r\n]+$/, "");
  if (trimmed.trim() === "") {
    throw new CliError("ERR_INPUT", `${source}: no credential values (expected ${expected(spec)})`);
  }
  const raw = spec.rawField;
  if (raw !== undefined && (raw.text === "document" || !trimmed.trimStart().startsWith("{"))) {
    return build(spec, { [raw.name]: trimmed });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // JSON.parse's message quotes the input, which holds credentials
    throw new CliError("ERR_INPUT", `${source}: not valid JSON (expected ${expected(spec)})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError("ERR_INPUT", `${source}: expected ${expected(spec)}`);
  }
  return credentialsFromFields(spec, parsed as Record<string, unknown>, source);
}

/** Turns field values (from a JSON object or prompts) into Credentials; empty optional fields are left out. */
export function credentialsFromFields(spec: TypeSpec, fields: Record<string, unknown>, source: string): Credentials {
  const known = new Set(spec.fields.map((f) => f.name));
  if (Object.keys(fields).some((key) => !known.has(key))) {
    // the unknown key is not quoted: a mistyped input may have a value where a key belongs
    throw new CliError("ERR_INPUT", `${source}: a field that --type ${spec.name} does not take (it takes ${fieldList(spec)})`);
  }
  const value: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const given = fields[f.name];
    if (given === undefined || given === null || given === "") {
      if (!f.optional) {
        throw new CliError("ERR_INPUT", `${source}: missing ${f.name} (--type ${spec.name} takes ${fieldList(spec)})`);
      }
      continue;
    }
    value[f.name] = convert(f, given, source);
  }
  return build(spec, value);
}

function convert(field: CredentialField, given: unknown, source: string): unknown {
  if (field.kind === "list") {
    if (typeof given === "string") {
      return given.split(/\s+/).filter((item) => item !== "");
    }
    if (Array.isArray(given) && given.every((item) => typeof item === "string")) {
      return given;
    }
    throw new CliError("ERR_INPUT", `${source}: ${field.name} must be an array of strings or a space-separated string`);
  }
  if (typeof given !== "string") {
    throw new CliError("ERR_INPUT", `${source}: ${field.name} must be a string`);
  }
  return field.kind === "enum" ? enumValue(field, given, source) : given;
}

/**
 * An enum value by its name, in any case, with or without the prefix its
 * values share, or by its last word: `post`, `client_secret_post` and
 * `OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST` all name the same value.
 * Unspecified is not a choice.
 */
function enumValue(field: CredentialField, given: string, source: string): number {
  const values = field.enum?.values ?? [];
  // the prefix of all values, unspecified's too: that of the choices alone could be longer
  const prefix = sharedPrefix(values.map((value) => value.name)).toLowerCase();
  const choices = values
    .filter((value) => value.number !== 0)
    .map((value) => ({ number: value.number, name: value.name.slice(prefix.length).toLowerCase() }));
  const lower = given.toLowerCase();
  const wanted = lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
  const choice = choices.find((candidate) => candidate.name === wanted || (!wanted.includes("_") && candidate.name.endsWith(`_${wanted}`)));
  if (choice === undefined) {
    throw new CliError("ERR_INPUT", `${source}: ${field.name} must be ${choices.map((candidate) => candidate.name).join(" or ")}`);
  }
  return choice.number;
}

/** The longest prefix up to an underscore that all names share (`OAUTH2_AUTH_METHOD_`). */
function sharedPrefix(names: string[]): string {
  const [first = ""] = names;
  let end = first.lastIndexOf("_") + 1;
  while (end > 0 && !names.every((name) => name.startsWith(first.slice(0, end)))) {
    end = first.lastIndexOf("_", end - 2) + 1;
  }
  return first.slice(0, end);
}

function build(spec: TypeSpec, value: Record<string, unknown>): Credentials {
  // spec.credentialsCase names the oneof case that goes with the fields read for spec
  const init = { kind: { case: spec.credentialsCase, value } } as MessageInitShape<typeof CredentialsSchema>;
  return create(CredentialsSchema, init);
}

function fieldList(spec: TypeSpec): string {
  return spec.fields.map((f) => (f.optional ? `${f.name} (optional)` : f.name)).join(", ");
}

function expected(spec: TypeSpec): string {
  if (spec.rawField?.text === "document") {
    return "the JSON document";
  }
  const object = `a JSON object with ${fieldList(spec)}`;
  return spec.rawField === undefined ? object : `the ${spec.rawField.name} alone or ${object}`;
}
