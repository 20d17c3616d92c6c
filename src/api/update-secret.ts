import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { secretTypeOf } from "../credentials/credential-registry.ts";
import { servedSteps } from "../credentials/served-steps.ts";
import { SecretRecordSchema } from "../gen/credbroker/storage/v1/record_pb.ts";
import { SecretSchema, type Credentials } from "../gen/credbroker/v1/secret_pb.ts";
import type { UpdateSecretRequest, UpdateSecretResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { settleDpopKey } from "../oauth/dpop-key.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore } from "../store/secret-store.ts";
import type { SecretAnswer } from "./secret-answer.ts";
import { modeLabel, openCredentials, requireRecord } from "./records.ts";
import { commitOrAbort, sealCredentials } from "./secret-writes.ts";
import { checkUpdateMask, maskedCredentials } from "./update-mask.ts";
import { checkCredentials } from "./validate-credentials.ts";
import { checkDescription, checkMode, checkName } from "./validate-request.ts";

/** What UpdateSecret needs. */
export interface UpdateSecretDeps {
  /** Where records live. */
  store: SecretStore;
  /** Opens the stored credentials and seals the new ones. */
  sealer: Sealer;
  /** Builds the answer. */
  answer: SecretAnswer;
}

/**
 * UpdateSecret. Without a mask, a set description and set credentials
 * replace the stored ones. With one, the stored credentials are opened,
 * the masked fields replaced from the request, and the result checked as a
 * new secret's values are; the record is resealed either way (its metadata
 * is in the payload's AAD). Nothing is written unless every check passes.
 */
export function createUpdateSecret({ store, sealer, answer }: UpdateSecretDeps) {
  return async function updateSecret(
    req: UpdateSecretRequest,
    context: HandlerContext,
  ): Promise<MessageInitShape<typeof UpdateSecretResponseSchema>> {
    const mode = checkMode(req.mode);
    const name = checkName(req.name);
    const masked = req.updateMask !== undefined && req.updateMask.paths.length > 0;
    if (!masked) {
      // as before masks: the request's own values are checked before the secret is looked up
      if (req.description !== undefined) {
        checkDescription(req.description);
      }
      if (req.credentials !== undefined) {
        checkCredentials(req.credentials);
      }
      if (req.description === undefined && req.credentials === undefined) {
        throw invalidField("credentials", "set description, credentials or both");
      }
    }
    const { record, secret: current } = requireRecord(store, mode, name);
    const change = masked ? checkUpdateMask(req.updateMask!, current.type) : undefined;
    const descriptionChange = change === undefined ? req.description !== undefined : change.description;
    const description = descriptionChange ? checkDescription(req.description ?? "") : undefined;
    const credentialsChange = change === undefined ? req.credentials !== undefined : change.allCredentials || change.credentialFields.length > 0;
    if (req.expectedVersion !== undefined && req.expectedVersion !== current.version) {
      throw new CredbrokerError(
        "ERR_VERSION_MISMATCH",
        `secret "${name}" in ${modeLabel(mode)} mode is at version ${current.version}, not ${req.expectedVersion}`,
        { metadata: { mode: modeLabel(mode), name } },
      );
    }
    if (credentialsChange && req.credentials?.kind.case !== undefined && secretTypeOf(req.credentials) !== current.type) {
      throw new CredbrokerError("ERR_TYPE_CHANGE", `secret "${name}" cannot change its type; delete it and create it again`, {
        metadata: { mode: modeLabel(mode), name },
      });
    }
    let opened: Credentials | undefined;
    const stored = () => (opened ??= openCredentials(sealer, bindingOf(current), record.payload!));
    let credentials: Credentials;
    if (!credentialsChange) {
      credentials = stored();
    } else {
      const next =
        change === undefined || change.allCredentials ? req.credentials! : maskedCredentials(stored(), req.credentials, change.credentialFields);
      if (change !== undefined) {
        // the merged values (or, for a whole-credentials path, the request's) pass the rules a new secret's do
        checkCredentials(next);
      }
      credentials = settleDpopKey(next, stored);
    }
    const secret = create(SecretSchema, {
      name,
      mode,
      type: current.type,
      description: description ?? current.description,
      version: current.version + 1n,
      generation: current.generation,
      ...(current.createTime === undefined ? {} : { createTime: current.createTime }),
      updateTime: timestampNow(),
      steps: [...servedSteps(credentials)],
    });
    // the whole metadata is bound into the payload's AAD, so even a description change reseals
    const payload = credentialsChange
      ? sealCredentials(sealer, bindingOf(secret), credentials)
      : sealer.reseal(bindingOf(current), bindingOf(secret), record.payload!);
    // a live secret keeps the origin of its last deploy: its version now says it changed since
    const updated = create(SecretRecordSchema, { secret, payload, ...(record.deployedFrom === undefined ? {} : { deployedFrom: record.deployedFrom }) });
    await commitOrAbort(store, context, [{ kind: "put", record: updated, expectVersion: current.version }], mode, [{ name, version: secret.version }]);
    return { secret: answer(secret, { opened: credentials }) };
  };
}
