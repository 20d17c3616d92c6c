import type { Client } from "@connectrpc/connect";
import type { AuditEvent, AuditService } from "../../src/gen/credbroker/v1/audit_service_pb.ts";

/** Every audit event the broker answers, page by page through ListAuditEvents. */
export async function allAuditEvents(audit: Client<typeof AuditService>, filter: { name?: string } = {}): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await audit.listAuditEvents({ pageSize: 1000, pageToken, ...filter });
    events.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return events;
}
