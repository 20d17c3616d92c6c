import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { AuditCallerSchema, AuditEventSchema, AuditSecretSchema, type AuditEvent, type CallerKind } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import type { SecretStore, StoreConflict, StoreWrite } from "../store/secret-store.ts";
import type { AuditEventFields } from "./event-encoding.ts";

/** A secret an audit event names. */
export interface AuditTarget {
  readonly name: string;
  readonly version: bigint;
}

/**
 * What the audit interceptor puts in a call's context: a service that
 * commits a change builds its `ok` event here, so that the event commits in
 * the change's transaction, and the interceptor then writes no second one.
 */
export interface AuditScope {
  /** The event of this call, with outcome `code`. */
  event(code: string, mode: Mode, targets: readonly AuditTarget[]): AuditEvent;
  /** Whether the call's event is committed already. */
  recorded: boolean;
}

/** The audit scope of a call; undefined when no audit interceptor runs (services called directly). */
export const auditScopeKey = createContextKey<AuditScope | undefined>(undefined, { description: "audit scope" });

/**
 * Commits a change and, when the call is audited, its `ok` event in the
 * same transaction: both are written or neither is.
 */
export async function commitAudited(
  store: SecretStore,
  context: HandlerContext | undefined,
  writes: readonly StoreWrite[],
  mode: Mode,
  targets: readonly AuditTarget[],
): Promise<StoreConflict | undefined> {
  const scope = context?.values.get(auditScopeKey);
  const conflict = await store.commit(writes, scope === undefined ? [] : [scope.event("ok", mode, targets)]);
  if (conflict === undefined && scope !== undefined) {
    scope.recorded = true;
  }
  return conflict;
}

/** The fields of an event that the interceptor knows before the call ends. */
export interface EventBasis {
  readonly method: string;
  readonly requestId: string;
  readonly caller: () => { kind: CallerKind; peerAddress: string; tlsSubject: string };
}

/** The fields of the audit event of a call that ends now. */
export function auditEventFields(basis: EventBasis, code: string, mode: Mode, targets: readonly AuditTarget[]): AuditEventFields {
  const ms = Date.now();
  return {
    time: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
    method: basis.method,
    mode,
    secrets: targets,
    code,
    caller: basis.caller(),
    requestId: basis.requestId,
  };
}

/** An audit event of a call that ends now, as a message (for a change's transaction). */
export function auditEvent(basis: EventBasis, code: string, mode: Mode, targets: readonly AuditTarget[]): AuditEvent {
  const fields = auditEventFields(basis, code, mode, targets);
  return create(AuditEventSchema, {
    time: create(TimestampSchema, fields.time),
    method: fields.method,
    mode,
    secrets: targets.map(({ name, version }) => create(AuditSecretSchema, { name, version })),
    code,
    caller: create(AuditCallerSchema, fields.caller),
    requestId: fields.requestId,
  });
}
