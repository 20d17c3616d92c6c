import { describe, expect, it } from "vitest";
import { checkCredentials } from "../../src/api/validate-credentials.ts";
import { checkDescription, checkName } from "../../src/api/validate-request.ts";
import { CredbrokerError } from "../../src/errors.ts";
import { SecretType } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { emptyValues, toCredentials, typeSpecOf, type FieldValues } from "../../ui/src/secret-types.ts";
import { credentialProblems, descriptionProblem, nameProblem } from "../../ui/src/validate.ts";

// The page's checks against the broker's, on the same input: the page must
// refuse what the broker refuses (at the field the broker names) and accept
// what it accepts, so that an operator never meets a surprise after Save.

/** The field the server refuses, or undefined when it accepts. */
function serverFault(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof CredbrokerError) {
      return error.field;
    }
    throw error;
  }
}

const valid: Record<number, FieldValues> = {
  [SecretType.BASIC_AUTH]: { username: "alice", password: "s3cret" },
  [SecretType.BEARER_TOKEN]: { token: "tok-123" },
  [SecretType.API_KEY]: { keyName: "X-API-Key", keyValue: "k-1" },
  [SecretType.SFTP_PASSWORD]: { username: "deploy", password: "pw" },
  [SecretType.OAUTH2_CLIENT_CREDENTIALS]: {
    clientId: "c",
    clientSecret: "s",
    tokenUrl: "https://idp.example.com/token",
    scopes: ["a.read"],
    audience: "",
    resource: "",
    authMethod: "1",
  },
  [SecretType.JSON_CREDENTIALS]: { json: '{"type":"service_account"}' },
};

const cases: [SecretType, string, string | string[]][] = [
  [SecretType.BASIC_AUTH, "username", ""],
  [SecretType.BASIC_AUTH, "username", "a:b"],
  [SecretType.BASIC_AUTH, "username", "a\u0007b"],
  [SecretType.BASIC_AUTH, "password", ""],
  [SecretType.BASIC_AUTH, "password", "x".repeat(64 * 1024 + 1)],
  [SecretType.BASIC_AUTH, "password", "é".repeat(32 * 1024 + 1)],
  [SecretType.BEARER_TOKEN, "token", ""],
  [SecretType.BEARER_TOKEN, "token", "a\r\nb"],
  [SecretType.BEARER_TOKEN, "token", " padded"],
  [SecretType.BEARER_TOKEN, "token", "tab\tinside"],
  [SecretType.BEARER_TOKEN, "token", "ünïcode"],
  [SecretType.BEARER_TOKEN, "token", "emoji-😀"],
  [SecretType.API_KEY, "keyName", "X API Key"],
  [SecretType.API_KEY, "keyName", "Content-Length"],
  [SecretType.API_KEY, "keyName", "x-custom_header.1"],
  [SecretType.API_KEY, "keyValue", "v\u0000"],
  [SecretType.SFTP_PASSWORD, "username", ""],
  [SecretType.SFTP_PASSWORD, "username", "line\nbreak"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "clientId", ""],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "clientSecret", ""],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "idp.example.com/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "http://idp.example.com/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "http://127.0.0.1:8080/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "http://127.example.com/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "http://localhost/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "http://[::1]:9/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "https://user:pw@idp.example.com/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "https://idp.example.com/token#frag"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "tokenUrl", "ftp://idp.example.com/token"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "scopes", ["has space"]],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "scopes", ['quo"te']],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "scopes", Array.from({ length: 101 }, (_, i) => `s${i}`)],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "scopes", ["ok", "x".repeat(64 * 1024 + 1)]],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "audience", "aud\u0001"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "resource", "not a uri"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "resource", "https://api.example.com/#x"],
  [SecretType.OAUTH2_CLIENT_CREDENTIALS, "resource", "urn:example:api"],
  [SecretType.JSON_CREDENTIALS, "json", ""],
  [SecretType.JSON_CREDENTIALS, "json", "[1,2]"],
  [SecretType.JSON_CREDENTIALS, "json", "{not json"],
  [SecretType.JSON_CREDENTIALS, "json", '"a string"'],
];

describe("the admin page's form checks agree with the broker's", () => {
  const types = Object.keys(valid).map((type) => [typeSpecOf(Number(type) as SecretType)!.label, Number(type) as SecretType] as const);
  it.each(types)("accepts valid %s values, as the broker does", (_label, type) => {
    const spec = typeSpecOf(type)!;
    const values = { ...emptyValues(spec), ...valid[type] };
    expect(credentialProblems(spec, values)).toEqual({});
    expect(serverFault(() => checkCredentials(toCredentials(spec, values)))).toBeUndefined();
  });

  it.each(cases)("type %i, %s = %j: the page and the broker agree", (type, field, value) => {
    const spec = typeSpecOf(type)!;
    const values = { ...emptyValues(spec), ...valid[type], [field]: value };
    const server = serverFault(() => checkCredentials(toCredentials(spec, values)));
    const page = Object.keys(credentialProblems(spec, values));
    if (server === undefined) {
      expect(page).toEqual([]);
    } else {
      // the broker names the first fault (scopes[3] for a list item); the page marks the field
      expect(page).toEqual([server.replace(/\[\d+\]$/, "")]);
    }
  });

  it.each(["", "a", "Upper", "-lead", "a".repeat(63), "a".repeat(64), "ok.name_1-2", "sp ace", "ünï"])(
    "name %j: the page and the broker agree",
    (name) => {
      expect(nameProblem(name) === undefined).toBe(serverFault(() => checkName(name)) === undefined);
    },
  );

  it.each(["", "plain", "line\nbreak\ttab", "bell\u0007", "x".repeat(1024), "x".repeat(1025)])(
    "description %j: the page and the broker agree",
    (description) => {
      expect(descriptionProblem(description) === undefined).toBe(serverFault(() => checkDescription(description)) === undefined);
    },
  );
});
