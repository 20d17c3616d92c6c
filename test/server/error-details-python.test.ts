/**
 * Interop: Python's grpcio, a client the broker does not ship, sees the
 * error details in the trailing metadata `grpc-status-details-bin` (what
 * grpcio-status's rpc_status.from_call reads), on both listeners.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mode } from "../../src/gen/credbroker/v1/secret_pb.ts";
import { CreateSecretRequestSchema } from "../../src/gen/credbroker/v1/secret_service_pb.ts";
import { startTestBroker, type TestBroker } from "../support/broker.ts";
import { detailsOfStatusBytes, expectErrorDetails } from "../support/error-details.ts";
import { debianPython, pythonModule } from "../support/python.ts";

/**
 * One unary call with grpcio's generic stub (raw bytes in); prints the
 * status code and the hex of the grpc-status-details-bin trailer.
 */
const pythonCall = `
import grpc, json, sys
address, method, request, token = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4]
with grpc.insecure_channel(address) as channel:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        call(request, timeout=10, metadata=[("authorization", "Bearer " + token)])
        print(json.dumps({"code": "OK", "details": ""}))
    except grpc.RpcError as error:
        trailers = dict(error.trailing_metadata() or ())
        print(json.dumps({"code": error.code().name, "details": trailers.get("grpc-status-details-bin", b"").hex()}))
`;

describe("error details seen by Python grpcio", () => {
  let tb: TestBroker;
  beforeAll(async () => {
    tb = await startTestBroker();
  });
  afterAll(async () => {
    await tb?.close();
  });

  const pythonCheck = pythonModule("grpc", "python3-grpcio");
  it.skipIf(!pythonCheck.available)(
    `an INVALID_ARGUMENT carries ErrorInfo and BadRequest in grpc-status-details-bin on both listeners${pythonCheck.available ? "" : ` (skipped: ${pythonCheck.reason})`}`,
    async () => {
      const canary = "python-canary-2b7e41";
      const request = toBinary(
        CreateSecretRequestSchema,
        create(CreateSecretRequestSchema, { mode: Mode.TEST, name: "Not A Name", credentials: { kind: { case: "bearerToken", value: { token: canary } } } }),
      );
      for (const address of [tb.broker.grpcAddress, tb.broker.httpAddress!]) {
        const { stdout } = await promisify(execFile)(debianPython, [
          "-c",
          pythonCall,
          address,
          "/credbroker.v1.SecretService/CreateSecret",
          Buffer.from(request).toString("hex"),
          tb.adminToken,
        ]);
        const answer = JSON.parse(stdout) as { code: string; details: string };
        expect({ address, code: answer.code }).toEqual({ address, code: "INVALID_ARGUMENT" });
        expectErrorDetails(
          detailsOfStatusBytes(Buffer.from(answer.details, "hex")),
          { code: Code.InvalidArgument, reason: "ERR_INVALID_FIELD", field: "name" },
          [canary, tb.adminToken],
        );
      }
    },
  );
});
