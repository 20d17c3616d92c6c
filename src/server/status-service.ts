import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { ReplicaStatusSchema, StatusService } from "../gen/credbroker/v1/status_service_pb.ts";
import type { ReplicaStatus } from "../store/replica.ts";

/** What the status service reports from. */
export interface StatusSources {
  readonly instanceId: string;
  /** The replica's state, in fleet mode. */
  readonly replica?: (() => ReplicaStatus) | undefined;
}

/** StatusService: standalone or fleet, and the replica's state; no token, no secret. */
export function createStatusService(sources: StatusSources): ServiceImpl<typeof StatusService> {
  return {
    getStatus() {
      const replica = sources.replica?.();
      return {
        instanceId: sources.instanceId,
        fleet: replica !== undefined,
        ...(replica === undefined ? {} : { replica: replicaMessage(replica, Date.now()) }),
      };
    },
  };
}

function replicaMessage(replica: ReplicaStatus, now: number) {
  const ageMs = replica.currentAt === undefined ? undefined : Math.max(0, now - replica.currentAt.getTime());
  return create(ReplicaStatusSchema, {
    connected: replica.connected,
    appliedRevision: replica.appliedRevision,
    headRevision: replica.headRevision,
    lagRevisions: replica.headRevision > replica.appliedRevision ? replica.headRevision - replica.appliedRevision : 0n,
    epoch: replica.epoch,
    ...(ageMs === undefined
      ? {}
      : { age: create(DurationSchema, { seconds: BigInt(Math.floor(ageMs / 1000)), nanos: (ageMs % 1000) * 1_000_000 }) }),
  });
}
