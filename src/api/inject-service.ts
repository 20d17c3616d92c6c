import { create, fromBinary } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { InjectResponseSchema, InjectService } from "../gen/credbroker/v1/inject_service_pb.ts";
import { CredentialsSchema, SecretType, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { MaterialCache } from "../material/material-cache.ts";
import { buildStaticMaterial } from "../material/static-material.ts";
import { resolveStep } from "../material/step.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { bindingOf, requireRecord } from "./records.ts";
import { checkMode, checkName, checkStep } from "./validate-request.ts";

/** What the inject service needs. */
export interface InjectServiceDeps {
  /** Where records live. */
  store: SecretStore;
  /** Opens sealed credentials. */
  sealer: Sealer;
  /** Ready material of recent Injects; the caller drops entries on every store change. */
  materialCache: MaterialCache;
}

/** Inject: ready-to-use material of one secret for one step. */
export function createInjectService({ store, sealer, materialCache }: InjectServiceDeps): ServiceImpl<typeof InjectService> {
  return {
    async inject(req) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const requested = checkStep(req.step);
      const { record, secret } = requireRecord(store, mode, name);
      const step = resolveStep(secret.type, requested, name);
      if (secret.type === SecretType.OAUTH2_CLIENT_CREDENTIALS) {
        throw new CredbrokerError("ERR_UNIMPLEMENTED", `secret "${name}": OAuth2 token injection is not available yet`);
      }
      const cached = materialCache.get(mode, name, step, secret.version);
      if (cached !== undefined) {
        return cached;
      }
      const plaintext = sealer.open(bindingOf(secret), record.payload!);
      let credentials: Credentials;
      try {
        credentials = fromBinary(CredentialsSchema, plaintext);
      } catch (cause) {
        throw new CredbrokerError("ERR_SEAL_OPEN_FAILED", `secret "${name}": the opened payload is not credentials`, {
          cause,
        });
      } finally {
        plaintext.fill(0);
      }
      const response = deepFreeze(create(InjectResponseSchema, { secret, material: buildStaticMaterial(credentials, step) }));
      materialCache.set(mode, name, step, response);
      return response;
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
