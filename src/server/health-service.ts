import type { ServiceImpl } from "@connectrpc/connect";
import { CredbrokerError } from "../errors.ts";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/health/v1/health_pb.ts";
import { toConnectError } from "./connect-error.ts";
import type { HealthState } from "./health-state.ts";

/**
 * grpc.health.v1.Health over a HealthState: what a Kubernetes `grpc:` probe
 * and load balancers call. Check answers NOT_FOUND for a service it does not
 * know; Watch answers SERVICE_UNKNOWN for one and keeps the call open, as
 * the health protocol says.
 */
export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = state.get(request.service);
      if (status === undefined) {
        // converted here: on the HTTP listener, health runs without the interceptors that convert errors
        throw toConnectError(new CredbrokerError("ERR_UNKNOWN_SERVICE", `unknown service ${describe(request.service)}`));
      }
      return { status };
    },
    async *watch(request, context) {
      let changed = true;
      let wake: (() => void) | undefined;
      const unsubscribe = state.subscribe(() => {
        changed = true;
        wake?.();
      });
      const onAbort = () => wake?.();
      context.signal.addEventListener("abort", onAbort);
      try {
        let sent: ServingStatus | undefined;
        while (!context.signal.aborted) {
          if (changed) {
            changed = false;
            const status = state.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
            if (status !== sent) {
              sent = status;
              yield { status };
              continue;
            }
          }
          if (state.isShutDown) {
            return;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        // a passed deadline ends the stream as DEADLINE_EXCEEDED, not as a Watch that finished
        throw toConnectError(context.signal.reason);
      } finally {
        unsubscribe();
        context.signal.removeEventListener("abort", onAbort);
      }
    },
    list() {
      return { statuses: Object.fromEntries(state.entries().map(([name, status]) => [name, { status }])) };
    },
  };
}

/** A service name fit to echo in an error: a probe's input, so only when it looks like one. */
function describe(service: string): string {
  return /^[A-Za-z0-9_.]{1,200}$/.test(service) ? `"${service}"` : "(malformed name)";
}
