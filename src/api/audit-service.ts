import type { ServiceImpl } from "@connectrpc/connect";
import { AuditService } from "../gen/credbroker/v1/audit_service_pb.ts";
import { invalidField } from "../errors.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import { checkName } from "./validate-request.ts";

/** What the audit service needs. */
export interface AuditServiceDeps {
  /** Where events are kept: the audit log, whose events not yet moved into the store are listed too. */
  log: Pick<AuditLog, "listEvents">;
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
      const from = req.pageToken === "" ? since : decodeToken(req.pageToken);
      const events = log.listEvents(from < 0n ? 0n : from, pageSize + 1, name);
      const next = events.length > pageSize ? events[pageSize] : undefined;
      return {
        events: events.slice(0, pageSize),
        nextPageToken: next === undefined ? "" : Buffer.from(`${tokenPrefix}:${next.sequence}`, "utf8").toString("base64url"),
      };
    },
  };
}

function decodeToken(token: string): bigint {
  const match = /^ae1:(\d{1,20})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (match === null) {
    throw invalidField("pageToken", "is not a page token of the audit log");
  }
  return BigInt(match[1]!);
}
