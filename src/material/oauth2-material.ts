import { create } from "@bufbuild/protobuf";
import { CodeMaterialSchema, HttpMaterialSchema, InjectResponseSchema, type InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import { StepKind } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { authorizationHeaderValue } from "../oauth/authorization-header.ts";
import type { DpopProver } from "../oauth/dpop-proof.ts";
import type { ProofTarget } from "../oauth/dpop-target.ts";
import type { AccessToken } from "../oauth/token-cache-api.ts";
import type { Material } from "./static-material.ts";

/**
 * The material of an OAuth2 secret: built from a fetched access token, never
 * from the stored client secret, which no step ever sees.
 */
export function buildOAuth2Material(token: AccessToken, step: StepKind): Material {
  const header = authorizationHeaderValue(token);
  if (token.dpop !== undefined && step !== StepKind.HTTP) {
    // the broker never hands out the DPoP key, and a bound token is useless without a proof per request
    throw new CredbrokerError("ERR_STEP_NOT_SERVED", "a DPoP-bound OAuth2 secret serves HTTP steps only (each request needs a proof)", {
      field: "step",
    });
  }
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
      throw new CredbrokerError("ERR_STEP_NOT_SERVED", "an OAuth2 secret cannot serve that step");
  }
}

/**
 * A DPoP secret's HTTP answer for one request: the (cached) answer's
 * `Authorization: DPoP <token>` and a fresh `DPoP` proof for the target,
 * signed now. The proof is never cached: each is good for one request.
 */
export function withDpopProof(response: InjectResponse, prover: DpopProver, target: ProofTarget | undefined): InjectResponse {
  if (target === undefined) {
    throw new CredbrokerError("ERR_TARGET_REQUIRED", "target is required: the secret's tokens are DPoP-bound, and the proof names the request's method and URL", {
      field: "target",
    });
  }
  const headers = response.material.case === "http" ? response.material.value.headers : [];
  return create(InjectResponseSchema, {
    ...(response.secret === undefined ? {} : { secret: response.secret }),
    material: {
      case: "http",
      value: create(HttpMaterialSchema, { headers: [...headers, { name: "DPoP", value: prover.proof(target.htm, target.htu) }] }),
    },
    ...(response.expireTime === undefined ? {} : { expireTime: response.expireTime }),
  });
}
