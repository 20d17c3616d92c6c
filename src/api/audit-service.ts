import type { ServiceImpl } from "@connectrpc/connect";
import type { AuditEvents } from "../audit/audit-events.ts";
import { AuditService, type AuditEvent } from "../gen/credbroker/v1/audit_service_pb.ts";
import { invalidField } from "../errors.ts";
import { checkName } from "./validate-request.ts";

/** What the audit service needs. */
export interface AuditServiceDeps {
  /** Where events are kept: the audit log (with its events not yet moved into the store), or the fleet's. */
  log: AuditEvents;
}

const defaultPageSize = 100;
const maxPageSize = 1000;
// an audit page token carries the sequence the next page starts at
const tokenPrefix = "ae1";

/** ListAuditEvents: the audit log, oldest first, by page. */
export function createAuditService({ log }: AuditServiceDeps): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req) {
      if (req.pageSize < 0) {
        throw invalidField("pageSize", "must not be negative");
      }
      const pageSize = Math.min(req.pageSize === 0 ? defaultPageSize : req.pageSize, maxPageSize);
      const name = req.name === undefined ? undefined : checkName(req.name);
      const since = req.since === undefined ? 0n : req.since.seconds * 1_000_000n + BigInt(Math.floor(req.since.nanos / 1000));
      const from = req.pageToken === "" ? { sequence: since, instance: "" } : decodeToken(req.pageToken);
      const events = await log.listEvents(from.sequence < 0n ? 0n : from.sequence, pageSize + 1, name, from.instance);
      const next = events.length > pageSize ? events[pageSize] : undefined;
      return {
        events: events.slice(0, pageSize),
        nextPageToken: next === undefined ? "" : encodeToken(next),
      };
    },
  };
}

/** The event the next page starts at: its sequence and, when events name their sidecar, its instance (events are unique by both in a fleet). */
function encodeToken(next: AuditEvent): string {
  const text = next.instanceId === "" ? `${tokenPrefix}:${next.sequence}` : `${tokenPrefix}:${next.sequence}:${next.instanceId}`;
  return Buffer.from(text, "utf8").toString("base64url");
}

function decodeToken(token: string): { sequence: bigint; instance: string } {
  const match = /^ae1:(\d{1,20})(?::([\x21-\x7e]{1,128}))?$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (match === null) {
    throw invalidField("pageToken", "is not a page token of the audit log");
  }
  return { sequence: BigInt(match[1]!), instance: match[2] ?? "" };
}
