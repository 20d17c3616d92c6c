import type { AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";

/** Where ListAuditEvents reads. */
export interface AuditEvents {
  /**
   * Up to `limit` events from (sequence, instance) on, ordered by sequence
   * then instance; only those naming `name` when set. Standalone, one
   * sidecar's log (`fromInstance` is ""); in fleet mode, every sidecar's.
   */
  listEvents(from: bigint, limit: number, name: string | undefined, fromInstance: string): AuditEvent[] | Promise<AuditEvent[]>;
}
