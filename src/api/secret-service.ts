import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { commitAudited, type AuditTarget } from "../audit/audit-scope.ts";
import { SecretRecordSchema, type SealedPayload } from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, Mode, SecretSchema, type Credentials, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import { SecretService } from "../gen/credbroker/v1/secret_service_pb.ts";
import { CredbrokerError, invalidField } from "../errors.ts";
import { settleDpopKey } from "../oauth/dpop-key.ts";
import type { RecordBinding, Sealer } from "../seal/sealer.ts";
import type { SecretStore, StoreConflict, StoreWrite } from "../store/secret-store.ts";
import { decodePageToken, encodePageToken } from "./page-token.ts";
import { bindingOf, modeLabel, requireRecord, secretNotFound } from "./records.ts";
import { createTestSecret } from "./test-secret.ts";
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
}

const defaultPageSize = 50;
const maxPageSize = 1000;
const maxDeployNames = 1000;

/** The admin API: create, read, update, delete, deploy and test secrets; metadata only in every answer. */
export function createSecretService({ store, sealer, oauthTimeoutMs }: SecretServiceDeps): ServiceImpl<typeof SecretService> {
  function sealCredentials(binding: RecordBinding, credentials: Credentials) {
    const plaintext = toBinary(CredentialsSchema, credentials);
    try {
      return sealer.seal(binding, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  /** The stored credentials of a record, for an update that keeps a value the request leaves to the broker (the DPoP key). */
  function storedCredentials(binding: RecordBinding, payload: SealedPayload): Credentials {
    const plaintext = sealer.open(binding, payload);
    try {
      return fromBinary(CredentialsSchema, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  async function commitOrAbort(
    context: HandlerContext,
    writes: StoreWrite[],
    mode: Mode,
    targets: readonly AuditTarget[],
  ): Promise<void> {
    const conflict = await commitAudited(store, context, writes, mode, targets);
    if (conflict !== undefined) {
      throw concurrentChange(conflict);
    }
  }

  return {
    async createSecret(req, context) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const description = checkDescription(req.description);
      const type = checkCredentials(req.credentials);
      if (store.get(mode, name) !== undefined) {
        throw secretExists(mode, name);
      }
      const now = timestampNow();
      const secret = create(SecretSchema, { name, mode, type, description, version: 1n, createTime: now, updateTime: now });
      const payload = sealCredentials(bindingOf(secret), settleDpopKey(req.credentials as Credentials, () => undefined));
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
      return { secret };
    },

    async getSecret(req) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      return { secret: requireRecord(store, mode, name).secret };
    },

    async listSecrets(req) {
      const mode = checkMode(req.mode);
      if (req.pageSize < 0) {
        throw invalidField("pageSize", "must not be negative");
      }
      const pageSize = Math.min(req.pageSize === 0 ? defaultPageSize : req.pageSize, maxPageSize);
      const after = decodePageToken(mode, req.pageToken);
      // one more than the page tells whether another page follows
      const secrets = store.listSecrets(mode, after, pageSize + 1);
      const more = secrets.length > pageSize;
      if (more) {
        secrets.pop();
      }
      return { secrets, nextPageToken: more ? encodePageToken(mode, secrets[pageSize - 1]!.name) : "" };
    },

    async updateSecret(req, context) {
      const mode = checkMode(req.mode);
      const name = checkName(req.name);
      const description = req.description === undefined ? undefined : checkDescription(req.description);
      const type = req.credentials === undefined ? undefined : checkCredentials(req.credentials);
      if (description === undefined && req.credentials === undefined) {
        throw invalidField("credentials", "set description, credentials or both");
      }
      const { record, secret: current } = requireRecord(store, mode, name);
      if (req.expectedVersion !== undefined && req.expectedVersion !== current.version) {
        throw new CredbrokerError(
          "ERR_VERSION_MISMATCH",
          `secret "${name}" in ${modeLabel(mode)} mode is at version ${current.version}, not ${req.expectedVersion}`,
          { metadata: { mode: modeLabel(mode), name } },
        );
      }
      if (type !== undefined && type !== current.type) {
        throw new CredbrokerError("ERR_TYPE_CHANGE", `secret "${name}" cannot change its type; delete it and create it again`, {
          metadata: { mode: modeLabel(mode), name },
        });
      }
      const secret = create(SecretSchema, {
        ...current,
        description: description ?? current.description,
        version: current.version + 1n,
        updateTime: timestampNow(),
      });
      // the version is bound into the payload's AAD, so even a description change reseals
      const payload =
        req.credentials === undefined
          ? sealer.reseal(bindingOf(current), bindingOf(secret), record.payload!)
          : sealCredentials(bindingOf(secret), settleDpopKey(req.credentials, () => storedCredentials(bindingOf(current), record.payload!)));
      await commitOrAbort(
        context,
        [{ kind: "put", record: create(SecretRecordSchema, { secret, payload }), expectVersion: current.version }],
        mode,
        [{ name, version: secret.version }],
      );
      return { secret };
    },

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

    async deploySecrets(req, context) {
      if (req.names.length === 0) {
        throw invalidField("names", "name at least one test secret");
      }
      if (req.names.length > maxDeployNames) {
        throw invalidField("names", `at most ${maxDeployNames} names per deploy`);
      }
      const seen = new Set<string>();
      req.names.forEach((name, i) => {
        checkName(name, `names[${i}]`);
        if (seen.has(name)) {
          throw invalidField(`names[${i}]`, `"${name}" is named twice`);
        }
        seen.add(name);
      });
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
      const deployed: Secret[] = [];
      for (const name of req.names) {
        const { record, secret: source } = requireRecord(store, Mode.TEST, name);
        const live = store.get(Mode.LIVE, name)?.secret;
        const secret = create(SecretSchema, {
          name,
          mode: Mode.LIVE,
          type: source.type,
          description: source.description,
          version: (live?.version ?? 0n) + 1n,
          createTime: live?.createTime ?? now,
          updateTime: now,
        });
        const payload = sealer.reseal(bindingOf(source), bindingOf(secret), record.payload!);
        writes.push({
          kind: "put",
          record: create(SecretRecordSchema, { secret, payload }),
          expectVersion: live?.version ?? 0n,
        });
        deployed.push(secret);
      }
      await commitOrAbort(
        context,
        writes,
        Mode.LIVE,
        deployed.map((secret) => ({ name: secret.name, version: secret.version })),
      );
      return { secrets: deployed };
    },

    testSecret: createTestSecret({ store, sealer, oauthTimeoutMs }),
  };
}

function secretExists(mode: Mode, name: string): CredbrokerError {
  return new CredbrokerError("ERR_SECRET_EXISTS", `secret "${name}" already exists in ${modeLabel(mode)} mode`, {
    metadata: { mode: modeLabel(mode), name },
  });
}

function concurrentChange(conflict: StoreConflict): CredbrokerError {
  return new CredbrokerError(
    "ERR_VERSION_MISMATCH",
    `secret "${conflict.name}" in ${modeLabel(conflict.mode)} mode changed concurrently; retry`,
    { metadata: { mode: modeLabel(conflict.mode), name: conflict.name } },
  );
}
