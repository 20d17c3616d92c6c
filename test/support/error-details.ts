import { fromBinary } from "@bufbuild/protobuf";
import { anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";
import { expect } from "vitest";
import { BadRequestSchema, ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.ts";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.ts";

/** What an error's details say, decoded the same way whichever client received them. */
export interface WireErrorDetails {
  /** The status code (Connect and gRPC number them alike). */
  code: number;
  /** The type names of the details, in order. */
  types: string[];
  /** ErrorInfo's fields; undefined when there is no ErrorInfo. */
  info: { reason: string; domain: string; metadata: Record<string, string> } | undefined;
  /** BadRequest's field violations. */
  fieldViolations: Array<{ field: string; description: string; reason: string }>;
  /** Every detail's bytes and text, for checks that no value leaks into them. */
  text: string;
}

/** The details of an error thrown by a connect-es client (Connect JSON or binary, gRPC, gRPC-Web). */
export function detailsOfConnectError(error: unknown): WireErrorDetails {
  const err = ConnectError.from(error);
  const info = err.findDetails(ErrorInfoSchema);
  const badRequests = err.findDetails(BadRequestSchema);
  const raw = err.details.map((detail) => ("desc" in detail ? "" : Buffer.from(detail.value).toString("latin1") + JSON.stringify(detail.debug ?? null)));
  return summarize(
    err.code,
    err.details.map((detail) => ("desc" in detail ? detail.desc.typeName : detail.type)),
    info,
    badRequests,
    raw.join("\n"),
  );
}

/**
 * The details of a grpc-js call's error, decoded by hand from the
 * `grpc-status-details-bin` trailer: a google.rpc.Status whose details are
 * Any-packed messages, as grpc-go's status.FromError and grpcio read them.
 * Undefined when the trailer is absent.
 */
export function detailsOfGrpcTrailer(metadata: grpc.Metadata): WireErrorDetails | undefined {
  const values = metadata.get("grpc-status-details-bin");
  if (values.length === 0) {
    return undefined;
  }
  expect(values, "one grpc-status-details-bin").toHaveLength(1);
  return detailsOfStatusBytes(values[0] as Buffer);
}

/** The details in the bytes of a google.rpc.Status. */
export function detailsOfStatusBytes(bytes: Uint8Array): WireErrorDetails {
  const status = fromBinary(StatusSchema, bytes);
  const info = status.details.filter((any) => anyIs(any, ErrorInfoSchema)).map((any) => anyUnpack(any, ErrorInfoSchema)!);
  const badRequests = status.details.filter((any) => anyIs(any, BadRequestSchema)).map((any) => anyUnpack(any, BadRequestSchema)!);
  return summarize(
    status.code,
    status.details.map((any) => any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1)),
    info,
    badRequests,
    Buffer.from(bytes).toString("latin1"),
  );
}

function summarize(
  code: number,
  types: string[],
  info: ReadonlyArray<{ reason: string; domain: string; metadata: Record<string, string> }>,
  badRequests: ReadonlyArray<{ fieldViolations: ReadonlyArray<{ field: string; description: string; reason: string }> }>,
  raw: string,
): WireErrorDetails {
  expect(info.length, "at most one ErrorInfo").toBeLessThanOrEqual(1);
  const first = info[0];
  const fieldViolations = badRequests.flatMap((b) => b.fieldViolations.map(({ field, description, reason }) => ({ field, description, reason })));
  const texts = [raw, ...info.map((i) => JSON.stringify(i)), ...fieldViolations.map((v) => JSON.stringify(v))];
  return {
    code,
    types,
    info: first === undefined ? undefined : { reason: first.reason, domain: first.domain, metadata: { ...first.metadata } },
    fieldViolations,
    text: texts.join("\n"),
  };
}

/** What a test expects of an error's details. */
export interface ExpectedDetails {
  /** The status code. */
  code: Code;
  /** ErrorInfo's reason. */
  reason: string;
  /** The one BadRequest field violation's path; undefined: no BadRequest at all. */
  field?: string;
  /** Entries ErrorInfo's metadata must hold (others may be there too). */
  metadata?: Record<string, string>;
}

/**
 * Asserts the contract of DESIGN.md's Errors: one ErrorInfo of domain
 * `credbroker` with the reason, a BadRequest naming the field exactly when
 * the input was invalid, and, when given, values that the details never hold.
 */
export function expectErrorDetails(details: WireErrorDetails | undefined, expected: ExpectedDetails, neverContains: readonly string[] = []): void {
  expect(details, "error details").toBeDefined();
  const { code, info, fieldViolations, types, text } = details!;
  expect({ code: Code[code], reason: info?.reason, domain: info?.domain }).toEqual({
    code: Code[expected.code],
    reason: expected.reason,
    domain: "credbroker",
  });
  if (expected.metadata !== undefined) {
    expect(info?.metadata).toMatchObject(expected.metadata);
  }
  if (expected.field === undefined) {
    expect(types).not.toContain(BadRequestSchema.typeName);
  } else {
    expect(fieldViolations.map((v) => ({ field: v.field, reason: v.reason }))).toEqual([{ field: expected.field, reason: expected.reason }]);
    expect(fieldViolations[0]?.description).not.toBe("");
    expect(info?.metadata["field"]).toBe(expected.field);
  }
  for (const value of neverContains) {
    expect(text, "a value in the error details").not.toContain(value);
  }
}
