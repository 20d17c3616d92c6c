import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { auditScopeKey } from "../audit/audit-scope.ts";
import { DeployOriginSchema, SecretRecordSchema, type SecretRecord } from "../gen/credbroker/storage/v1/record_pb.ts";
import { Mode, SecretSchema } from "../gen/credbroker/v1/secret_pb.ts";
import type { DeploySecretsRequest, DeploySecretsResponseSchema } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { bindingOf } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore, StoreWrite } from "../store/secret-store.ts";
import { newGeneration } from "./generation.ts";
import { requireRecord } from "./records.ts";
import type { SecretAnswer } from "./secret-answer.ts";
import { commitOrAbort } from "./secret-writes.ts";
import { checkName } from "./validate-request.ts";

/** What DeploySecrets needs. */
export interface DeploySecretsDeps {
  /** Where records live. */
  store: SecretStore;
  /** Reseals each test payload to its live record. */
  sealer: Sealer;
  /** Builds the answer. */
  answer: SecretAnswer;
}

const maxDeployNames = 1000;

/**
 * DeploySecrets: copies test secrets to live, all or nothing. Each live
 * record remembers what it was deployed from (DeployOrigin), which the deploy
 * state of ListSecrets and GetSecret reads. With validate_only the same
 * checks run and the same answer is built, but nothing is written but the
 * call's audit event, which says it was a dry run.
 */
export function createDeploySecrets({ store, sealer, answer }: DeploySecretsDeps) {
  return async function deploySecrets(
    req: DeploySecretsRequest,
    context: HandlerContext,
  ): Promise<MessageInitShape<typeof DeploySecretsResponseSchema>> {
    checkNames(req.names);
    const missing = req.names.filter((name) => store.get(Mode.TEST, name) === undefined);
    if (missing.length > 0) {
      throw new CredbrokerError(
        "ERR_SECRET_NOT_FOUND",
        `not found in test mode, nothing deployed: ${missing.map((n) => `"${n}"`).join(", ")}`,
        { metadata: { mode: "test", names: missing.join(",") } },
      );
    }
    const now = timestampNow();
    const writes: StoreWrite[] = [];
    const records: SecretRecord[] = [];
    const createdNames: string[] = [];
    const replacedNames: string[] = [];
    for (const name of req.names) {
      const { record, secret: source } = requireRecord(store, Mode.TEST, name);
      const live = store.get(Mode.LIVE, name)?.secret;
      (live === undefined ? createdNames : replacedNames).push(name);
      const secret = create(SecretSchema, {
        name,
        mode: Mode.LIVE,
        type: source.type,
        description: source.description,
        version: (live?.version ?? 0n) + 1n,
        // live secrets cannot be deleted: one keeps the generation it was created or first deployed with
        generation: live === undefined ? newGeneration() : live.generation,
        createTime: live?.createTime ?? now,
        updateTime: now,
        steps: source.steps,
      });
      const deployedFrom = create(DeployOriginSchema, {
        testVersion: source.version,
        ...(source.createTime === undefined ? {} : { testCreateTime: source.createTime }),
        liveVersion: secret.version,
      });
      // a dry run seals nothing: the answer needs only the metadata
      const payload = req.validateOnly ? record.payload : sealer.reseal(bindingOf(source), bindingOf(secret), record.payload!);
      const written = create(SecretRecordSchema, { secret, deployedFrom, ...(payload === undefined ? {} : { payload }) });
      writes.push({ kind: "put", record: written, expectVersion: live?.version ?? 0n });
      records.push(written);
    }
    const targets = records.map((record) => ({ name: record.secret!.name, version: record.secret!.version }));
    if (req.validateOnly) {
      await recordDryRun(store, context, targets);
    } else {
      await commitOrAbort(store, context, writes, Mode.LIVE, targets);
    }
    return {
      secrets: records.map((record) => answer(record.secret!, { live: record })),
      createdNames,
      replacedNames,
    };
  };
}

function checkNames(names: readonly string[]): void {
  if (names.length === 0) {
    throw invalidField("names", "name at least one test secret");
  }
  if (names.length > maxDeployNames) {
    throw invalidField("names", `at most ${maxDeployNames} names per deploy`);
  }
  const seen = new Set<string>();
  names.forEach((name, i) => {
    checkName(name, `names[${i}]`);
    if (seen.has(name)) {
      throw invalidField(`names[${i}]`, `"${name}" is named twice`);
    }
    seen.add(name);
  });
}

/** Writes a dry run's `ok` event, marked validate_only, in a transaction of its own (there is no change for it to join). */
async function recordDryRun(store: SecretStore, context: HandlerContext, targets: readonly { name: string; version: bigint }[]): Promise<void> {
  const scope = context.values.get(auditScopeKey);
  if (scope === undefined) {
    return;
  }
  const event = scope.event("ok", Mode.LIVE, targets);
  event.validateOnly = true;
  await store.commit([], [event]);
  scope.recorded = true;
}
