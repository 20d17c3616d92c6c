import { create, fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { InjectResponseSchema, InjectService, type InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import {
  CredentialsSchema,
  SecretType,
  type Credentials,
  type Mode,
  type OAuth2ClientCredentials,
  type Secret,
  type StepKind,
} from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { MaterialCache } from "../material/material-cache.ts";
import { buildOAuth2Material } from "../material/oauth2-material.ts";
import { buildStaticMaterial } from "../material/static-material.ts";
import { resolveStep } from "../material/step.ts";
import type { AccessToken, TokenCache } from "../oauth/token-cache-api.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { bindingOf, requireRecord, secretNotFound } from "./records.ts";
import { checkMode, checkName, checkStep } from "./validate-request.ts";

/** What the inject service needs. */
export interface InjectServiceDeps {
  /** Where records live. */
  store: SecretStore;
  /** Opens sealed credentials. */
  sealer: Sealer;
  /** Ready material of recent static Injects; the caller drops entries on every store change. */
  materialCache: MaterialCache;
  /** OAuth2 access tokens per secret version; the caller invalidates them on every store change. */
  tokenCache: TokenCache;
}

/** How often an OAuth2 Inject starts over when its secret changed while a token was being fetched. */
const maxOAuth2Attempts = 3;

/** Inject: ready-to-use material of one secret for one step. */
export function createInjectService(deps: InjectServiceDeps): ServiceImpl<typeof InjectService> {
  const { store, sealer, materialCache, tokenCache } = deps;

  function openCredentials(record: SecretRecord, secret: Secret): Credentials {
    const plaintext = sealer.open(bindingOf(secret), record.payload!);
    try {
      return fromBinary(CredentialsSchema, plaintext);
    } catch (cause) {
      throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${secret.name}": the opened payload is not credentials`, {
        cause,
      });
    } finally {
      plaintext.fill(0);
    }
  }

  function injectStatic(record: SecretRecord, secret: Secret, step: StepKind): InjectResponse {
    const cached = materialCache.get(secret.mode, secret.name, step, secret.version);
    if (cached !== undefined) {
      return cached;
    }
    const material = buildStaticMaterial(openCredentials(record, secret), step);
    const response = deepFreeze(create(InjectResponseSchema, { secret, material }));
    materialCache.set(secret.mode, secret.name, step, response);
    return response;
  }

  // Ready OAuth2 answers live as long as their token: the token cache bounds
  // them and drops them with the token on every change of the secret.
  const oauth2Responses = new WeakMap<AccessToken, Map<StepKind, InjectResponse>>();

  function oauth2Response(secret: Secret, token: AccessToken, step: StepKind): InjectResponse {
    let bySteps = oauth2Responses.get(token);
    if (bySteps === undefined) {
      bySteps = new Map();
      oauth2Responses.set(token, bySteps);
    }
    let response = bySteps.get(step);
    if (response === undefined) {
      response = deepFreeze(
        create(InjectResponseSchema, {
          secret,
          material: buildOAuth2Material(token, step),
          ...(token.expiresAt === undefined ? {} : { expireTime: timestampFromDate(token.expiresAt) }),
        }),
      );
      bySteps.set(step, response);
    }
    return response;
  }

  async function injectOAuth2(mode: Mode, name: string, requested: StepKind): Promise<InjectResponse> {
    for (let attempt = 1; ; attempt++) {
      const { record, secret } = requireRecord(store, mode, name);
      const step = resolveStep(secret.type, requested, name);
      const key = { mode, name, version: secret.version };
      const warm = tokenCache.peek(key);
      if (warm !== undefined) {
        // a token of this very version: nothing was awaited, nothing can have changed
        return oauth2Response(secret, warm, step);
      }
      const token = await tokenCache.token(key, () => {
        const credentials = openCredentials(record, secret);
        return credentials.kind.value as OAuth2ClientCredentials;
      });
      // the secret may have changed while the token was fetched: a token got
      // with credentials replaced since must not be served
      const current = store.get(mode, name)?.secret;
      if (current === undefined) {
        throw secretNotFound(mode, name);
      }
      if (current.version === secret.version && current.type === SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        return oauth2Response(secret, token, step);
      }
      if (attempt >= maxOAuth2Attempts || current.type !== SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        throw new CredbrokerError("ERR_VERSION_MISMATCH", `secret "${name}" kept changing during Inject; retry`);
      }
    }
  }

  return {
    async inject(req) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const requested = checkStep(req.step);
      const { record, secret } = requireRecord(store, mode, name);
      if (secret.type === SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        return injectOAuth2(mode, name, requested);
      }
      return injectStatic(record, secret, resolveStep(secret.type, requested, name));
    },
  };
}

/** Freezes a message and everything it holds, so that a shared answer cannot change. */
function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null && !Object.isFrozen(child)) {
      deepFreeze(child as object);
    }
  }
  return Object.freeze(value);
}
