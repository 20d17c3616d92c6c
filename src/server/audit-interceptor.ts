import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { Mode } from "../gen/credbroker/v1/secret_pb.ts";
import { CredbrokerError } from "../errors.ts";
import { callerKindKey, peerKey, requestIdKey } from "./call-context.ts";
import { callRecord, mappedError, type CallTarget } from "./call-record.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import { auditEvent, auditEventFields, auditScopeKey, type AuditScope, type AuditTarget, type EventBasis } from "../audit/audit-scope.ts";
import type { RefusalCounts } from "../audit/refusal-counts.ts";
import { retentionClassOf } from "../audit/retention-class.ts";

/** Options of the audit interceptor. */
export interface AuditInterceptorOptions {
  /** Where events are appended. */
  log: Pick<AuditLog, "appendGrouped">;
  /** Told when the event of an already failed call could not be written (that call fails anyway). */
  logger: Logger;
  /** Where calls whose events are of the "refused" class are counted; undefined when metrics are off. */
  refusals?: RefusalCounts | undefined;
}

/**
 * Sits right inside the log interceptor, where a call's final code is known,
 * and appends one audit event per call. A service that commits a change
 * writes its own `ok` event in the change's transaction (see commitAudited);
 * every other outcome is written here: successful reads and Injects before
 * their answer is returned (fail closed: an event that cannot be written
 * fails the call), failures after the fact. Either way the call's answer
 * waits until its event is handed to the OS: the events of one event-loop
 * turn go to the audit log's segment file in one write(2), and no call waits
 * for a commit.
 */
export function createAuditInterceptor({ log, logger, refusals }: AuditInterceptorOptions): Interceptor {
  return (next) => async (req) => {
    const values = req.contextValues;
    // the method's name, the target and a failure's mapping are the log interceptor's too: worked out once
    const record = callRecord(req);
    const basis: EventBasis = {
      method: record.method,
      requestId: values.get(requestIdKey),
      caller: () => {
        const peer = values.get(peerKey)();
        return { kind: values.get(callerKindKey), peerAddress: peer.address, tlsSubject: peer.tlsSubject };
      },
    };
    const scope: AuditScope = {
      event: (code, mode, targets) => auditEvent(basis, code, mode, targets),
      recorded: false,
    };
    values.set(auditScopeKey, scope);
    const target = auditTarget(record.target);
    let res;
    try {
      res = await next(req);
    } catch (error) {
      if (!scope.recorded) {
        const connectCode = mappedError(record, error).code;
        const code = codeNames[connectCode] ?? "unknown";
        const event = auditEventFields(basis, code, target.mode, target.names.map((name) => ({ name, version: 0n })));
        // refusals that anyone can make go to a class of their own, so they cannot evict the main record
        const auditClass = retentionClassOf(event);
        if (auditClass === "refused") {
          refusals?.count(req.service, req.method, connectCode);
        }
        try {
          await log.appendGrouped(event, auditClass);
        } catch (cause) {
          logger.error({ method: basis.method, requestId: basis.requestId, code, err: cause }, "audit event not written");
        }
      }
      throw error;
    }
    if (!scope.recorded) {
      const targets = withVersions(target.names, req.stream ? undefined : res.message);
      try {
        await log.appendGrouped(auditEventFields(basis, "ok", target.mode, targets), "main");
      } catch (cause) {
        throw cause instanceof CredbrokerError && cause.code === "ERR_STORE_FULL"
          ? cause
          : new CredbrokerError("ERR_UNAVAILABLE", "the audit log cannot be written; the call is refused", { cause });
      }
    }
    return res;
  };
}

/** gRPC code names in lower snake case (`not_found`), as events store them. */
const codeNames: Record<number, string> = Object.fromEntries(
  Object.entries(Code)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => [value, name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase())]),
);
codeNames[0] = "ok";

/** The mode and names an event records: a deploy's names are live ones. */
function auditTarget(target: CallTarget): { mode: Mode; names: readonly string[] } {
  if (target.names !== undefined) {
    return { mode: Mode.LIVE, names: target.names };
  }
  return { mode: target.mode ?? Mode.UNSPECIFIED, names: target.name === undefined ? [] : [target.name] };
}

/** The targets with the versions a successful answer names (its `secret`, or its `secrets` for a deploy). */
function withVersions(names: readonly string[], answer: unknown): AuditTarget[] {
  const fields = (answer ?? {}) as { secret?: { name: string; version: bigint }; secrets?: { name: string; version: bigint }[] };
  if (names.length === 1 && fields.secret?.name === names[0] && fields.secrets === undefined) {
    // one secret answered (an Inject, a read): the answer's version, without a lookup table
    return [{ name: fields.secret.name, version: fields.secret.version }];
  }
  const known = new Map<string, bigint>();
  if (fields.secret !== undefined) {
    known.set(fields.secret.name, fields.secret.version);
  }
  for (const secret of Array.isArray(fields.secrets) && names.length > 0 ? fields.secrets : []) {
    known.set(secret.name, secret.version);
  }
  return names.map((name) => ({ name, version: known.get(name) ?? 0n }));
}
