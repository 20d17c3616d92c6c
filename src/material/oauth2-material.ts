import { create } from "@bufbuild/protobuf";
import { CodeMaterialSchema, HttpMaterialSchema } from "../gen/credbroker/v1/inject_service_pb.ts";
import { StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { authorizationHeaderValue } from "../oauth/authorization-header.ts";
import type { AccessToken } from "../oauth/token-cache-api.ts";
import type { Material } from "./static-material.ts";

/**
 * The material of an OAuth2 secret: built from a fetched access token, never
 * from the stored client secret, which no step ever sees.
 */
export function buildOAuth2Material(token: AccessToken, step: StepKind): Material {
  const header = authorizationHeaderValue(token);
  switch (step) {
    case StepKind.HTTP:
      return { case: "http", value: create(HttpMaterialSchema, { headers: [{ name: "Authorization", value: header }] }) };
    case StepKind.CODE:
      return {
        case: "code",
        value: create(CodeMaterialSchema, {
          // the type as the Authorization header spells it (openid-client lowercases "Bearer")
          fields: { accessToken: token.accessToken, tokenType: header.slice(0, header.indexOf(" ")) },
        }),
      };
    default:
      throw new CredbrokerError("ERR_FAILED_PRECONDITION", "an OAuth2 secret cannot serve that step");
  }
}
