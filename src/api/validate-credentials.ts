import { OAuth2AuthMethod, SecretType, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { invalidField } from "../errors.ts";
import { checkPrivateKey } from "../material/private-key.ts";
import { tokenUrlProblem } from "../oauth/token-url.ts";
import { checkSize } from "./validate-request.ts";
import {
  controlCharacters,
  headerNamePattern,
  headerValueForbidden,
  isJsonObject,
  maxScopes,
  reservedHeaders,
  scopeTokenPattern,
} from "./validation-rules.ts";

/** The secret type that a Credentials case stands for. */
export function secretTypeOf(credentials: Credentials): SecretType {
  switch (credentials.kind.case) {
    case "basicAuth":
      return SecretType.BASIC_AUTH;
    case "bearerToken":
      return SecretType.BEARER_TOKEN;
    case "apiKey":
      return SecretType.API_KEY;
    case "sftpPassword":
      return SecretType.SFTP_PASSWORD;
    case "sftpPrivateKey":
      return SecretType.SFTP_PRIVATE_KEY;
    case "oauth2ClientCredentials":
      return SecretType.OAUTH2_CLIENT_CREDENTIALS;
    case "jsonCredentials":
      return SecretType.JSON_CREDENTIALS;
    case undefined:
      return SecretType.UNSPECIFIED;
  }
}

/** Checks credentials field by field and returns their type; the first fault names its field. */
export function checkCredentials(credentials: Credentials | undefined, field = "credentials"): SecretType {
  const kind = credentials?.kind;
  if (kind === undefined || kind.case === undefined) {
    throw invalidField(field, "is required: set exactly one credential type");
  }
  const at = (name: string) => `${field}.${kind.case}.${name}`;
  switch (kind.case) {
    case "basicAuth":
      required(at("username"), kind.value.username);
      if (kind.value.username.includes(":")) {
        throw invalidField(at("username"), "must not contain ':' (RFC 7617)");
      }
      noControls(at("username"), kind.value.username);
      required(at("password"), kind.value.password);
      break;
    case "bearerToken":
      headerValue(at("token"), kind.value.token);
      break;
    case "apiKey":
      headerName(at("keyName"), kind.value.keyName);
      headerValue(at("keyValue"), kind.value.keyValue);
      break;
    case "sftpPassword":
      required(at("username"), kind.value.username);
      noControls(at("username"), kind.value.username);
      required(at("password"), kind.value.password);
      break;
    case "sftpPrivateKey":
      required(at("username"), kind.value.username);
      noControls(at("username"), kind.value.username);
      required(at("privateKey"), kind.value.privateKey);
      checkSize(at("passphrase"), kind.value.passphrase);
      checkPrivateKey(kind.value.privateKey, kind.value.passphrase);
      break;
    case "oauth2ClientCredentials": {
      const value = kind.value;
      required(at("clientId"), value.clientId);
      noControls(at("clientId"), value.clientId);
      required(at("clientSecret"), value.clientSecret);
      required(at("tokenUrl"), value.tokenUrl);
      const problem = tokenUrlProblem(value.tokenUrl);
      if (problem !== undefined) {
        throw invalidField(at("tokenUrl"), problem);
      }
      if (value.scopes.length > maxScopes) {
        throw invalidField(at("scopes"), `at most ${maxScopes} scopes`);
      }
      value.scopes.forEach((scope, i) => {
        checkSize(`${at("scopes")}[${i}]`, scope);
        if (!scopeTokenPattern.test(scope)) {
          throw invalidField(`${at("scopes")}[${i}]`, "must be a non-empty scope token without spaces or quotes");
        }
      });
      checkSize(at("audience"), value.audience);
      noControls(at("audience"), value.audience);
      if (value.resource !== "") {
        checkSize(at("resource"), value.resource);
        if (!URL.canParse(value.resource) || new URL(value.resource).hash !== "") {
          throw invalidField(at("resource"), "must be an absolute URI without a fragment (RFC 8707)");
        }
      }
      if (!(Object.values(OAuth2AuthMethod) as number[]).includes(value.authMethod)) {
        throw invalidField(at("authMethod"), "must be a known OAuth2AuthMethod");
      }
      break;
    }
    case "jsonCredentials":
      required(at("json"), kind.value.json);
      if (!isJsonObject(kind.value.json)) {
        throw invalidField(at("json"), "must be JSON text that parses to an object");
      }
      break;
  }
  return secretTypeOf(credentials as Credentials);
}

function required(field: string, value: string): void {
  if (value === "") {
    throw invalidField(field, "is required");
  }
  checkSize(field, value);
}

function noControls(field: string, value: string): void {
  if (controlCharacters.test(value)) {
    throw invalidField(field, "must not contain control characters");
  }
}

function headerName(field: string, value: string): void {
  required(field, value);
  if (!headerNamePattern.test(value)) {
    throw invalidField(field, "must be a valid HTTP header name (RFC 9110 token)");
  }
  if (reservedHeaders.has(value.toLowerCase())) {
    throw invalidField(field, "must not be a connection or framing header");
  }
}

function headerValue(field: string, value: string): void {
  required(field, value);
  if (headerValueForbidden.test(value)) {
    throw invalidField(field, "must be a valid HTTP header value (no CR, LF or control characters)");
  }
  if (value.trim() !== value) {
    throw invalidField(field, "must not start or end with whitespace");
  }
}
