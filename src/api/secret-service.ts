import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { commitAudited } from "../audit/audit-scope.ts";
import { servedSteps } from "../credentials/served-steps.ts";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretSchema, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { settleDpopKey } from "../oauth/dpop-key.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import { createDeploySecrets } from "./deploy-secrets.ts";
import { newGeneration } from "./generation.ts";
import type { LastUseTracker } from "./last-use.ts";
import { createListSecrets } from "./list-secrets.ts";
import { modeLabel, openCredentials, requireRecord, secretNotFound } from "./records.ts";
import { createSecretAnswers } from "./secret-answer.ts";
import { concurrentChange, sealCredentials } from "./secret-writes.ts";
import { createTestSecret } from "./test-secret.ts";
import { createUpdateSecret } from "./update-secret.ts";
import { checkCredentials } from "./validate-credentials.ts";
import { checkDescription, checkMode, checkName } from "./validate-request.ts";

/** What the admin service needs. */
export interface SecretServiceDeps {
  /** Where records live. */
  store: SecretStore;
  /** Seals credentials before they reach the store. */
  sealer: Sealer;
  /** The broker's OAuth2 timeout in ms: TestSecret's token requests get this long. */
  oauthTimeoutMs: number;
  /** When secrets last served an Inject, for the answers' last_use_time; undefined: none shown. */
  lastUse?: Pick<LastUseTracker, "lastUses"> | undefined;
}

/**
 * The admin API: create, read, update, delete, deploy and test secrets. Answers
 * carry metadata and, where a call opened the credentials, their readable
 * (non-sensitive) fields only: every Secret is built by createSecretAnswers.
 */
export function createSecretService({ store, sealer, oauthTimeoutMs, lastUse }: SecretServiceDeps): ServiceImpl<typeof SecretService> {
  const answer = createSecretAnswers({ store, lastUse });

  return {
    async createSecret(req, context) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const description = checkDescription(req.description);
      const type = checkCredentials(req.credentials);
      if (store.get(mode, name) !== undefined) {
        throw secretExists(mode, name);
      }
      const credentials = settleDpopKey(req.credentials as Credentials, () => undefined);
      const now = timestampNow();
      const secret = create(SecretSchema, {
        name,
        mode,
        type,
        description,
        version: 1n,
        generation: newGeneration(),
        createTime: now,
        updateTime: now,
        steps: [...servedSteps(credentials)],
      });
      const payload = sealCredentials(sealer, bindingOf(secret), credentials);
      const conflict = await commitAudited(
        store,
        context,
        [{ kind: "put", record: create(SecretRecordSchema, { secret, payload }), expectVersion: 0n }],
        mode,
        [{ name, version: secret.version }],
      );
      if (conflict !== undefined) {
        throw secretExists(mode, name);
      }
      return { secret: answer(secret, { opened: credentials }) };
    },

    async getSecret(req) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const { record, secret } = requireRecord(store, mode, name);
      return { secret: answer(secret, { opened: readableOrNone(() => openCredentials(sealer, bindingOf(secret), record.payload!)) }) };
    },

    listSecrets: createListSecrets({ store, answer, lastUse }),

    updateSecret: createUpdateSecret({ store, sealer, answer }),

    async deleteSecret(req, context) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      if (mode !== Mode.TEST) {
        throw new CredbrokerError("ERR_LIVE_DELETE", `secret "${name}": live secrets cannot be deleted`, {
          metadata: { mode: modeLabel(mode), name },
        });
      }
      const { secret } = requireRecord(store, mode, name);
      const conflict = await commitAudited(
        store,
        context,
        [{ kind: "delete", mode, name, expectVersion: secret.version }],
        mode,
        [{ name, version: secret.version }],
      );
      if (conflict !== undefined) {
        throw conflict.actualVersion === 0n ? secretNotFound(mode, name) : concurrentChange(conflict);
      }
      return {};
    },

    deploySecrets: createDeploySecrets({ store, sealer, answer }),

    testSecret: createTestSecret({ store, sealer, oauthTimeoutMs }),
  };
}

/**
 * The opened credentials, or undefined for a payload that fails to open:
 * the metadata of a damaged record stays readable (so it can be found and
 * replaced); Inject of it answers DATA_LOSS.
 */
function readableOrNone(open: () => Credentials): Credentials | undefined {
  try {
    return open();
  } catch (error) {
    if (error instanceof CredbrokerError && error.code === "ERR_SEAL_OPEN_FAILED") {
      return undefined;
    }
    throw error;
  }
}

function secretExists(mode: Mode, name: string): CredbrokerError {
  return new CredbrokerError("ERR_SECRET_EXISTS", `secret "${name}" already exists in ${modeLabel(mode)} mode`, {
    metadata: { mode: modeLabel(mode), name },
  });
}
