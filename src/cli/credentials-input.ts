import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { CredentialsSchema, OAuth2AuthMethod, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { CliError } from "./command.ts";
import type { TypeSpec } from "./secret-types.ts";

/**
 * Turns input text into Credentials of a type: a JSON object of the type's
 * fields, or, for bearer and json, the bare value. `source` names the input
 * in messages ("stdin", a file name); no message ever quotes the input.
 */
export function credentialsFromText(spec: TypeSpec, text: string, source: string): Credentials {
  const trimmed = text.replace(/[\r\n]+$/, "");
  if (trimmed.trim() === "") {
    throw new CliError(`${source}: no credential values (expected ${expected(spec)})`);
  }
  if (spec.rawField === "json") {
    return build(spec, { json: trimmed });
  }
  if (spec.rawField !== undefined && !trimmed.trimStart().startsWith("{")) {
    return build(spec, { [spec.rawField]: trimmed });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // JSON.parse's message quotes the input, which holds credentials
    throw new CliError(`${source}: not valid JSON (expected ${expected(spec)})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${source}: expected ${expected(spec)}`);
  }
  return credentialsFromFields(spec, parsed as Record<string, unknown>, source);
}

/** Turns field values (from a JSON object or prompts) into Credentials; empty optional fields are left out. */
export function credentialsFromFields(spec: TypeSpec, fields: Record<string, unknown>, source: string): Credentials {
  const known = new Set(spec.fields.map((f) => f.name));
  if (Object.keys(fields).some((key) => !known.has(key))) {
    // the unknown key is not quoted: a mistyped input may have a value where a key belongs
    throw new CliError(`${source}: a field that --type ${spec.name} does not take (it takes ${fieldList(spec)})`);
  }
  const value: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const given = fields[f.name];
    if (given === undefined || given === null || given === "") {
      if (!f.optional) {
        throw new CliError(`${source}: missing ${f.name} (--type ${spec.name} takes ${fieldList(spec)})`);
      }
      continue;
    }
    value[f.name] = convert(f.name, given, source);
  }
  return build(spec, value);
}

function convert(name: string, given: unknown, source: string): unknown {
  if (name === "scopes") {
    if (typeof given === "string") {
      return given.split(/\s+/).filter((scope) => scope !== "");
    }
    if (Array.isArray(given) && given.every((scope) => typeof scope === "string")) {
      return given;
    }
    throw new CliError(`${source}: scopes must be an array of strings or a space-separated string`);
  }
  if (typeof given !== "string") {
    throw new CliError(`${source}: ${name} must be a string`);
  }
  return name === "authMethod" ? authMethod(given, source) : given;
}

/** Accepts `basic`, `post`, `client_secret_basic`, `client_secret_post` or the enum's full name. */
function authMethod(given: string, source: string): OAuth2AuthMethod {
  switch (given.toLowerCase().replace(/^oauth2_auth_method_/, "")) {
    case "basic":
    case "client_secret_basic":
      return OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_BASIC;
    case "post":
    case "client_secret_post":
      return OAuth2AuthMethod.OAUTH2_AUTH_METHOD_CLIENT_SECRET_POST;
    default:
      throw new CliError(`${source}: authMethod must be client_secret_basic or client_secret_post`);
  }
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
  if (spec.rawField === "json") {
    return "the JSON document";
  }
  const object = `a JSON object with ${fieldList(spec)}`;
  return spec.rawField === undefined ? object : `the ${spec.rawField} alone or ${object}`;
}
