import type { DescService } from "@bufbuild/protobuf";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "../gen/health/v1/health_pb.ts";

/**
 * The serving status that the Health service reports, shared by both
 * listeners: one status for the broker as a whole ("") and for each
 * served service.
 */
export interface HealthState {
  /** The status of a service ("" is the broker as a whole), or undefined for a service it does not know. */
  get(service: string): ServingStatus | undefined;
  /** Every known service name ("" included) with its status. */
  entries(): [string, ServingStatus][];
  /** Sets the status of the broker and of every service; listeners hear of a change. */
  set(status: ServingStatus): void;
  /** Calls listener after every change and at shutdown; returns the function that unsubscribes it. */
  subscribe(listener: () => void): () => void;
  /** True once shutdown() ran: Watch streams send their last status and end. */
  readonly isShutDown: boolean;
  /** Sets NOT_SERVING and tells Watch streams to end once they have sent it, so that draining listeners can close. */
  shutdown(): void;
}

/** A health state that knows the given services and starts NOT_SERVING. */
export function createHealthState(services: readonly DescService[]): HealthState {
  const names = ["", ...services.map((service) => service.typeName)];
  let current: ServingStatus = ServingStatus.NOT_SERVING;
  let isShutDown = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) {
      listener();
    }
  };
  return {
    get: (service) => (names.includes(service) ? current : undefined),
    entries: () => names.map((name): [string, ServingStatus] => [name, current]),
    set(status) {
      if (isShutDown || status === current) {
        return;
      }
      current = status;
      notify();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get isShutDown() {
      return isShutDown;
    },
    shutdown() {
      if (isShutDown) {
        return;
      }
      current = ServingStatus.NOT_SERVING;
      isShutDown = true;
      notify();
    },
  };
}
