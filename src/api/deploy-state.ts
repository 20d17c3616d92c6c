import type { DeployOrigin } from "../gen/credbroker/storage/v1/record_pb.ts";
import { DeployState, type Secret } from "../gen/credbroker/v1/secret_pb.ts";
import type { RecordMetadata } from "../store/secret-store.ts";

/**
 * How a test secret stands against the live record of its name. A live
 * change since the deploy wins over a test change: deploying would undo
 * it, which is what an operator must see first.
 */
export function deployStateOf(test: Secret, live: RecordMetadata | undefined): DeployState {
  if (live?.secret === undefined) {
    return DeployState.NOT_IN_LIVE;
  }
  const origin = live.deployedFrom;
  if (origin === undefined || origin.liveVersion !== live.secret.version) {
    return DeployState.CHANGED_IN_LIVE;
  }
  return isDeployOf(origin, test) ? DeployState.IN_SYNC : DeployState.NEWER_IN_TEST;
}

/** Whether a deploy copied this very test secret at this version (not an earlier secret of the same name). */
function isDeployOf(origin: DeployOrigin, test: Secret): boolean {
  const a = origin.testCreateTime;
  const b = test.createTime;
  return origin.testVersion === test.version && a?.seconds === b?.seconds && a?.nanos === b?.nanos;
}
