import { fromBinary } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { InjectService } from "../gen/credbroker/v1/inject_service_pb.ts";
import { CredentialsSchema, SecretType, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
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
}

/** Inject: ready-to-use material of one secret for one step. */
export function createInjectService({ store, sealer }: InjectServiceDeps): ServiceImpl<typeof InjectService> {
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
      return { secret, material: buildStaticMaterial(credentials, step) };
    },
  };
}
