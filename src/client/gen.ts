/**
 * The generated credbroker.v1 descriptors, messages and enums, for admin
 * tooling: `import { SecretService, Mode } from "credbroker/gen"`; and
 * grpc.health.v1, whose Check the broker answers; and the google.rpc error
 * details (ErrorInfo, BadRequest) that the broker's errors carry.
 */
export * from "../gen/credbroker/v1/secret_pb.ts";
export * from "../gen/credbroker/v1/secret_service_pb.ts";
export * from "../gen/credbroker/v1/inject_service_pb.ts";
export * from "../gen/credbroker/v1/status_service_pb.ts";
export * from "../gen/health/v1/health_pb.ts";
export { BadRequestSchema, ErrorInfoSchema, type BadRequest, type BadRequest_FieldViolation, type ErrorInfo } from "../gen/google/rpc/error_details_pb.ts";
