/**
 * The generated credbroker.v1 descriptors, messages and enums, for admin
 * tooling: `import { SecretService, Mode } from "credbroker/gen"`; and
 * grpc.health.v1, whose Check the broker answers.
 */
export * from "../gen/credbroker/v1/secret_pb.ts";
export * from "../gen/credbroker/v1/secret_service_pb.ts";
export * from "../gen/credbroker/v1/inject_service_pb.ts";
export * from "../gen/health/v1/health_pb.ts";
