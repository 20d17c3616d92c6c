import { fromBinary } from "@bufbuild/protobuf";
import { AuditEventSchema, type AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { CentralStore } from "../store/central-store.ts";
import type { AuditEvents } from "./audit-events.ts";
import type { AuditLog } from "./audit-log.ts";

/**
 * ListAuditEvents in fleet mode: the fleet's events from the central store,
 * and this sidecar's own not shipped yet (its audit log and outbox), merged
 * by (sequence, instance), each once. Another sidecar's events appear once
 * it has shipped them (every 200 ms while the central store is reachable).
 */
export function fleetAuditEvents(central: Pick<CentralStore, "listEvents">, log: Pick<AuditLog, "listEvents">): AuditEvents {
  return {
    async listEvents(from, limit, name, fromInstance) {
      const shipped = (await central.listEvents(from, fromInstance, limit, name)).map((bytes) => fromBinary(AuditEventSchema, bytes));
      const own = log.listEvents(from, limit, name).filter((event) => compare(event, from, fromInstance) >= 0);
      const merged = new Map<string, AuditEvent>();
      for (const event of [...shipped, ...own]) {
        merged.set(`${event.sequence}/${event.instanceId}`, event);
      }
      return [...merged.values()].sort((a, b) => compare(a, b.sequence, b.instanceId)).slice(0, limit);
    },
  };
}

/** Orders events by sequence, then instance. */
function compare(event: AuditEvent, sequence: bigint, instance: string): number {
  if (event.sequence !== sequence) {
    return event.sequence < sequence ? -1 : 1;
  }
  return event.instanceId < instance ? -1 : event.instanceId > instance ? 1 : 0;
}
