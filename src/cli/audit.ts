import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CallerKindSchema,
  ListAuditEventsResponseSchema,
  type AuditEvent,
  type ListAuditEventsResponse,
} from "../gen/credbroker/v1/audit_service_pb.ts";
import { ModeSchema } from "../gen/credbroker/v1/secret_pb.ts";
import { noPositionals, parseCommandArgs, printHelp, UsageError, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { formatTable, printJson, time } from "./output.ts";

export const auditUsage = `Usage: credbroker audit [flags]

Lists the audit log, oldest first: one event per admin call and per Inject,
with its time, method, mode, secrets and versions, outcome and caller (the
kind of token, never the token). Needs the admin token.

  --since ISO         only events at or after this time (e.g. 2026-01-31T12:00:00Z)
  --name NAME         only events that name this secret
  --page-size N       events per page (default 100); the pages are followed to the end
`;

const options = {
  since: { type: "string" },
  name: { type: "string" },
  "page-size": { type: "string" },
} as const;

/** `credbroker audit`: ListAuditEvents, every page. */
export async function audit(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, auditUsage);
  }
  noPositionals(positionals);
  const since = values.since === undefined ? undefined : sinceOf(values.since);
  const pageSize = values["page-size"] === undefined ? 0 : pageSizeOf(values["page-size"]);
  const listing = await withClient(values, ctx, "admin", async (client) => {
    const all: ListAuditEventsResponse = create(ListAuditEventsResponseSchema);
    let pageToken = "";
    do {
      const page = await client.audit.listAuditEvents({
        pageSize,
        pageToken,
        ...(since === undefined ? {} : { since }),
        ...(values.name === undefined ? {} : { name: values.name }),
      });
      all.events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return all;
  });
  if (values.json === true) {
    printJson(ctx, ListAuditEventsResponseSchema, listing);
    return 0;
  }
  if (listing.events.length === 0) {
    ctx.stderr.write("no audit events\n");
    return 0;
  }
  // a fleet's events name the sidecar that served each call
  const fleet = listing.events.some((event) => event.instanceId !== "");
  ctx.stdout.write(
    formatTable(
      ["TIME", "METHOD", "MODE", "SECRETS", "CODE", "CALLER", "PEER", "REQUEST ID", ...(fleet ? ["INSTANCE"] : [])],
      listing.events.map((event) => [...eventRow(event), ...(fleet ? [event.instanceId || "-"] : [])]),
    ),
  );
  return 0;
}

function eventRow(event: AuditEvent): string[] {
  const mode = ModeSchema.value[event.mode]?.localName ?? String(event.mode);
  const kind = CallerKindSchema.value[event.caller?.kind ?? 0]?.localName ?? "";
  return [
    time(event.time),
    event.method.replace(/^credbroker\.v1\./, ""),
    mode === "UNSPECIFIED" ? "-" : mode.toLowerCase(),
    event.secrets.map((s) => (s.version === 0n ? s.name : `${s.name}@${s.version}`)).join(",") || "-",
    event.code,
    kind.toLowerCase().replace("_", "-") || "-",
    [event.caller?.peerAddress, event.caller?.tlsSubject].filter((part) => part !== undefined && part !== "").join(" ") || "-",
    event.requestId,
  ];
}

function sinceOf(text: string) {
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new UsageError(`--since must be an ISO 8601 time like 2026-01-31T12:00:00Z, got "${text}"`);
  }
  return timestampFromDate(date);
}

function pageSizeOf(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) === 0 || Number(text) > 1000) {
    throw new UsageError(`--page-size must be a whole number from 1 to 1000, got "${text}"`);
  }
  return Number(text);
}
