import { HealthCheckResponse_ServingStatus as ServingStatus, HealthCheckResponseSchema } from "../gen/health/v1/health_pb.ts";
import { noPositionals, parseCommandArgs, printHelp, type CliContext } from "./command.ts";
import { withClient } from "./connect.ts";
import { printJson } from "./output.ts";

export const healthUsage = `Usage: credbroker health [--service NAME] [flags]

Calls grpc.health.v1.Health/Check on the broker's gRPC listener, as a
Kubernetes grpc probe does, and prints the status. Exit 0 when SERVING, 1
otherwise (NOT_SERVING while draining, unreachable, or no answer within 5 s).
Needs no token: fit for a container HEALTHCHECK.

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
  const res = await withClient(values, ctx, "none", (client) =>
    client.health.check({ service: values.service ?? "" }, { timeoutMs: healthTimeoutMs }),
  );
  if (values.json === true) {
    printJson(ctx, HealthCheckResponseSchema, res);
  } else {
    ctx.stdout.write(`${statusName(res.status)}\n`);
  }
  return res.status === ServingStatus.SERVING ? 0 : 1;
}

function statusName(status: ServingStatus): string {
  const name = Object.entries(ServingStatus).find(([, value]) => value === status)?.[0];
  return name ?? `status ${status}`;
}
