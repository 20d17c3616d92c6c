import type { ReplicaStatus } from "../gen/credbroker/v1/status_service_pb.ts";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthCheckResponseSchema } from "../gen/health/v1/health_pb.ts";
import { noPositionals, parseCommandArgs, printHelp, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { printJson } from "./output.ts";

export const healthUsage = `Usage: credbroker health [--service NAME] [flags]

Calls grpc.health.v1.Health/Check on the broker's gRPC listener, as a
Kubernetes grpc probe does, and prints the status; in fleet mode also where
the sidecar's replica stands (credbroker.v1.StatusService/GetStatus):
connected to the central store or not, applied revision, lag and age. Exit
0 when SERVING, 1 otherwise (NOT_SERVING while draining, unreachable, or no
answer within 5 s); a replica cut off from PostgreSQL still serves, so it
still exits 0. Needs no token: fit for a container HEALTHCHECK.

  --service NAME   a service to ask about, e.g. credbroker.v1.InjectService
                   (default: the broker as a whole)
`;

const options = { service: { type: "string" } } as const;

/** How long a health check waits for an answer. */
const healthTimeoutMs = 5_000;

/** `credbroker health`: Health/Check; exit 0 only when SERVING. */
export async function health(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, options);
  if (values.help === true) {
    return printHelp(ctx, healthUsage);
  }
  noPositionals(positionals);
  const [res, status] = await withClient(values, ctx, "none", (client) =>
    Promise.all([
      client.health.check({ service: values.service ?? "" }, { timeoutMs: healthTimeoutMs }),
      // a broker older than StatusService answers health alone
      client.status.getStatus({}, { timeoutMs: healthTimeoutMs }).catch(() => undefined),
    ]),
  );
  if (values.json === true) {
    printJson(ctx, HealthCheckResponseSchema, res);
  } else {
    ctx.stdout.write(`${statusName(res.status)}\n`);
    if (status?.replica !== undefined) {
      ctx.stdout.write(`${replicaLine(status.instanceId, status.replica)}\n`);
    }
  }
  return res.status === ServingStatus.SERVING ? 0 : 1;
}

/** E.g. "fleet sidecar pod-a: replica connected, revision 1042 of 1042 (lag 0), current 0.4 s ago". */
function replicaLine(instanceId: string, replica: ReplicaStatus): string {
  const age = replica.age === undefined ? "never current" : `current ${(Number(replica.age.seconds) + replica.age.nanos / 1e9).toFixed(1)} s ago`;
  const connection = replica.connected ? "connected" : "NOT connected to the central store (serving what it holds; writes refused)";
  return `fleet sidecar ${instanceId}: replica ${connection}, revision ${replica.appliedRevision} of ${replica.headRevision} (lag ${replica.lagRevisions}), ${age}`;
}

function statusName(status: ServingStatus): string {
  const name = Object.entries(ServingStatus).find(([, value]) => value === status)?.[0];
  return name ?? `status ${status}`;
}
