import { create } from "@bufbuild/protobuf";
import {
  CodeMaterialSchema,
  HttpMaterialSchema,
  SftpMaterialSchema,
  type InjectResponse,
} from "../gen/credbroker/v1/inject_service_pb.ts";
import { StepKind, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { credentialTypeOfCase } from "../credentials/credential-registry.ts";
import { CredbrokerError } from "../errors.ts";
import { clientPrivateKey } from "./client-private-key.ts";

/** The material oneof of an InjectResponse. */
export type Material = InjectResponse["material"];

/**
 * Turns the plaintext credentials of a static secret into the material of
 * one step. The step must be one the type serves (see resolveStep).
 */
export function buildStaticMaterial(credentials: Credentials, step: StepKind): Material {
  const kind = credentials.kind;
  switch (step) {
    case StepKind.HTTP:
      switch (kind.case) {
        case "basicAuth": {
          const encoded = Buffer.from(`${kind.value.username}:${kind.value.password}`, "utf8").toString("base64");
          return httpHeader("Authorization", `Basic ${encoded}`);
        }
        case "bearerToken":
          return httpHeader("Authorization", `Bearer ${kind.value.token}`);
        case "apiKey":
          return httpHeader(kind.value.keyName, kind.value.keyValue);
      }
      break;
    case StepKind.SFTP:
      switch (kind.case) {
        case "sftpPassword":
          return {
            case: "sftp",
            value: create(SftpMaterialSchema, {
              username: kind.value.username,
              auth: { case: "password", value: kind.value.password },
            }),
          };
        case "sftpPrivateKey": {
          const key = clientPrivateKey(kind.value.privateKey, kind.value.passphrase);
          return {
            case: "sftp",
            value: create(SftpMaterialSchema, {
              username: kind.value.username,
              auth: { case: "privateKey", value: key.privateKey },
              passphrase: key.passphrase,
            }),
          };
        }
      }
      break;
    case StepKind.CODE:
      return codeMaterial(credentials);
  }
  throw new CredbrokerError("ERR_STEP_NOT_SERVED", "this secret cannot serve that step");
}

function httpHeader(name: string, value: string): Material {
  return { case: "http", value: create(HttpMaterialSchema, { headers: [{ name, value }] }) };
}

/** Code fields, named as in Credentials (empty optional ones left out); a JSON document goes in `json` instead. */
function codeMaterial(credentials: Credentials): Material {
  const kind = credentials.kind;
  if (kind.case === undefined || kind.case === "oauth2ClientCredentials") {
    // OAuth2 material comes from a fetched token, never from stored values
    throw new CredbrokerError("ERR_STEP_NOT_SERVED", "this secret's Code material is not static");
  }
  // a message's fields are its properties by their local names
  const values = kind.value as unknown as Record<string, unknown>;
  const fields: Record<string, string> = {};
  let json = "";
  for (const field of credentialTypeOfCase(kind.case).fields) {
    const value = values[field.name];
    // Code fields are strings; lists and enums are OAuth2's, whose material is not static
    if (field.kind !== "string" || typeof value !== "string" || (value === "" && field.optional)) {
      continue;
    }
    if (field.text === "document") {
      json = value;
    } else {
      fields[field.name] = value;
    }
  }
  return { case: "code", value: create(CodeMaterialSchema, { fields, json }) };
}
