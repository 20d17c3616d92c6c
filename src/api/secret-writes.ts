import { toBinary } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { commitAudited, type AuditTarget } from "../audit/audit-scope.ts";
import type { SealedPayload } from "../gen/credbroker/storage/v1/record_pb.ts";
import { CredentialsSchema, type Credentials, type Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import type { RecordBinding } from "../seal/record-binding.ts";
import type { Sealer } from "../seal/sealer.ts";
import type { SecretStore, StoreConflict, StoreWrite } from "../store/secret-store.ts";
import { modeLabel } from "./records.ts";

/** Seals credentials for a record; the plaintext bytes are zeroed once sealed. */
export function sealCredentials(sealer: Sealer, binding: RecordBinding, credentials: Credentials): SealedPayload {
  const plaintext = toBinary(CredentialsSchema, credentials);
  try {
    return sealer.seal(binding, plaintext);
  } finally {
    plaintext.fill(0);
  }
}


/** Commits writes with the call's audit event; a version conflict is ABORTED (the secret changed concurrently). */
export async function commitOrAbort(
  store: SecretStore,
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

/** The ABORTED error of a write that lost a race. */
export function concurrentChange(conflict: StoreConflict): CredbrokerError {
  return new CredbrokerError(
    "ERR_VERSION_MISMATCH",
    `secret "${conflict.name}" in ${modeLabel(conflict.mode)} mode changed concurrently; retry`,
    { metadata: { mode: modeLabel(conflict.mode), name: conflict.name } },
  );
}
