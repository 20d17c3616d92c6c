import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { InjectResponseSchema, InjectService, type InjectResponse } from "../gen/credbroker/v1/inject_service_pb.ts";
import {
  SecretType,
  type Mode,
  type OAuth2ClientCredentials,
  type Secret,
  type StepKind,
} from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { MaterialCache } from "../material/material-cache.ts";
import { buildOAuth2Material, withDpopProof } from "../material/oauth2-material.ts";
import { buildStaticMaterial } from "../material/static-material.ts";
import { resolveStep } from "../material/step.ts";
import { checkTarget, type ProofTarget } from "../oauth/dpop-target.ts";
import type { AccessToken, TokenCache } from "../oauth/token-cache-api.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { encodedAnswerKey } from "./encoded-answer.ts";
import type { LastUseTracker } from "./last-use.ts";
import { openCredentials, requireRecord, secretNotFound, type LoadedRecord } from "./records.ts";
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
  /** Told of every successful Inject, by type and mode only (e.g. to count it in the metrics); called on the hot path, so keep it cheap. */
  onInject?: ((type: SecretType, mode: Mode) => void) | undefined;
  /** Notes each successful Inject's secret for its last-use time; a map write, no store write. */
  lastUse?: Pick<LastUseTracker, "record"> | undefined;
}

/** How often an OAuth2 Inject starts over when its secret changed while a token was being fetched. */
const maxOAuth2Attempts = 3;

/** Inject: ready-to-use material of one secret for one step. */
export function createInjectService(deps: InjectServiceDeps): ServiceImpl<typeof InjectService> {
  const { store, sealer, materialCache, tokenCache } = deps;
  const counted = deps.onInject;
  const lastUse = deps.lastUse;
  const onInject = (type: SecretType, mode: Mode, name: string) => {
    counted?.(type, mode);
    lastUse?.record(mode, name);
  };

  function ready(mode: Mode, name: string, step: StepKind, response: InjectResponse, token?: AccessToken): InjectResponse {
    const frozen = deepFreeze(response);
    materialCache.set(mode, name, step, {
      response: frozen,
      // a DPoP-bound token's answer gets a fresh proof every time: its bytes are never reused
      encoded: token?.dpop === undefined ? toBinary(InjectResponseSchema, frozen) : undefined,
      version: frozen.secret?.version ?? 0n,
      ...(token === undefined ? {} : { token }),
    });
    return frozen;
  }

  function injectStatic(record: SecretRecord, secret: Secret, requested: StepKind): InjectResponse {
    const step = resolveStep(secret.type, requested, secret.name);
    const material = buildStaticMaterial(openCredentials(sealer, bindingOf(secret), record.payload!), step);
    return ready(secret.mode, secret.name, requested, create(InjectResponseSchema, { secret, material }));
  }

  function oauth2Response(secret: Secret, token: AccessToken, step: StepKind): InjectResponse {
    return create(InjectResponseSchema, {
      secret,
      material: buildOAuth2Material(token, step),
      ...(token.expiresAt === undefined ? {} : { expireTime: timestampFromDate(token.expiresAt) }),
    });
  }

  /** The answer for a token: as built, or with a fresh proof for a DPoP-bound one. */
  function proven(response: InjectResponse, token: AccessToken, target: ProofTarget | undefined): InjectResponse {
    return token.dpop === undefined ? response : withDpopProof(response, token.dpop, target);
  }

  async function injectOAuth2(first: LoadedRecord, requested: StepKind, target: ProofTarget | undefined): Promise<InjectResponse> {
    const { mode, name } = first.secret;
    for (let attempt = 1, loaded = first; ; attempt++, loaded = requireRecord(store, mode, name)) {
      const { record, secret } = loaded;
      const step = resolveStep(secret.type, requested, name);
      const key = { mode, name, version: secret.version };
      const warm = tokenCache.peek(key);
      if (warm !== undefined) {
        // a token of this very version: nothing was awaited, nothing can have changed
        return proven(ready(mode, name, requested, oauth2Response(secret, warm, step), warm), warm, target);
      }
      const token = await tokenCache.token(key, () => {
        const credentials = openCredentials(sealer, bindingOf(secret), record.payload!);
        return credentials.kind.value as OAuth2ClientCredentials;
      });
      // the secret may have changed while the token was fetched, or been
      // deleted and created again at the same version (another generation):
      // a token got with credentials replaced since must not be served
      const current = store.get(mode, name)?.secret;
      if (current === undefined) {
        throw secretNotFound(mode, name);
      }
      const unchanged = current.version === secret.version && current.generation === secret.generation;
      if (unchanged && current.type === SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        return proven(oauth2Response(secret, token, step), token, target);
      }
      if (attempt >= maxOAuth2Attempts || current.type !== SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        throw new CredbrokerError("ERR_VERSION_MISMATCH", `secret "${name}" kept changing during Inject; retry`);
      }
    }
  }

  async function injectUncached(mode: Mode, name: string, requested: StepKind, target: ProofTarget | undefined): Promise<InjectResponse> {
    const loaded = requireRecord(store, mode, name);
    const response =
      loaded.secret.type === SecretType.OAUTH2_CLIENT_CREDENTIALS
        ? await injectOAuth2(loaded, requested, target)
        : injectStatic(loaded.record, loaded.secret, requested);
    onInject(response.secret!.type, mode, name);
    return response;
  }

  return {
    // not async: a cached answer is returned as it is, with no promise made for it
    inject(req, context) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const requested = checkStep(req.step);
      const target = checkTarget(req.target);
      // the hot path: a ready answer whose version is still the stored one
      // (checked without decoding the record) and, for OAuth2, whose token the
      // token cache still serves; a DPoP token's answer gets its proof here,
      // since no proof may be served twice
      const cached = materialCache.get(mode, name, requested);
      if (
        cached !== undefined &&
        store.isCurrent(mode, name, cached.version) &&
        (cached.token === undefined || tokenCache.peek({ mode, name, version: cached.version }) === cached.token)
      ) {
        const response = cached.token === undefined ? cached.response : proven(cached.response, cached.token, target);
        if (response === cached.response) {
          // served as cached: a listener that encodes answers may send the cached bytes
          context.values.set(encodedAnswerKey, cached);
        }
        onInject(response.secret!.type, mode, name);
        return response;
      }
      return injectUncached(mode, name, requested, target);
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
