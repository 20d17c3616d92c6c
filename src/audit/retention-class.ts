import { CallerKind } from "../gen/credbroker/v1/audit_service_pb.ts";
import type { AuditClass } from "../store/secret-store.ts";

/**
 * The retention class of an event, read from the event alone (so any sink
 * can apply it): "refused" when the call was refused and its caller
 * presented no token the broker knows, i.e. UNAUTHENTICATED for a missing
 * or unknown token, or PERMISSION_DENIED from the browser guard for a web
 * page of another origin. Anyone who reaches a listener can make such calls
 * as fast as they like, so they are kept under a cap of their own. A caller
 * with a known token stays "main" even when refused (an inject-test token
 * asking for live, the admin token at Inject): only a token holder can make
 * those, and they are what an investigation looks for. So does an open
 * Inject (no inject token configured): it was admitted, and its event is the
 * record of what was read.
 */
export function retentionClassOf(event: { readonly code: string; readonly caller?: { readonly kind: CallerKind } | undefined }): AuditClass {
  const anonymous = (event.caller?.kind ?? CallerKind.NONE) === CallerKind.NONE;
  return anonymous && (event.code === "unauthenticated" || event.code === "permission_denied") ? "refused" : "main";
}
